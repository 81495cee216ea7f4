"""RUN: the command line (shell, exec, heredocs), its environment, network and mounts.

`prepare` decides everything (pure apart from reading the context for bind-mount
digests); the builder runs it through the Backend only on a cache miss.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from krat.build.backend import Mount, RunSpec
from krat.build.dockerfile import Instruction, parse_heredoc_word
from krat.build.imageconfig import PROXY_ARGS, command_line
from krat.build.stages import run_mounts
from krat.build.state import StageRun
from krat.errors import InvalidArgument

NETWORKS = ("default", "none", "host")


@dataclass
class RunPlan:
    spec: RunSpec
    created_by: str
    canonical: str
    args: dict[str, str]
    mounts: list[dict[str, str]] = field(default_factory=list)   # raw --mount specs to resolve
    script: bytes | None = None          # a `RUN <<EOF` with a #! line: executed as a file


def _argv(run: StageRun, inst: Instruction) -> tuple[list[str], bytes | None]:
    if not inst.heredocs or inst.json:
        if not inst.args:
            raise InvalidArgument("RUN requires at least one argument")
        return command_line(run.state, inst.args, inst.json), None
    line = inst.args[0]
    only = parse_heredoc_word(line.strip())
    if only is not None and len(inst.heredocs) == 1:
        doc = inst.heredocs[0]
        body = doc.text
        if body.startswith("#!"):
            return ["/dev/.krat-heredoc"], body.encode()
        return [*run.state.shell, body], None
    # Otherwise the shell reads the heredocs itself: give it the lines as written.
    text = line + "\n" + "".join(h.content + h.name + "\n" for h in inst.heredocs)
    return [*run.state.shell, text], None


def _network(inst: Instruction, default: str) -> str:
    network = default
    for flag in inst.flags:
        name, _, value = flag[2:].partition("=")
        if name.lower() == "network":
            network = value
        elif name.lower() in ("security", "device"):
            raise InvalidArgument(f"RUN --{name} is not supported by krat")
        elif name.lower() != "mount":
            raise InvalidArgument(f"unknown flag: --{name}")
    if network not in NETWORKS:
        raise InvalidArgument(f"RUN --network={network}: expected one of {', '.join(NETWORKS)}")
    return network


def prepare(run: StageRun, inst: Instruction, filename: str, default_network: str,
            proxies: dict[str, str]) -> RunPlan:
    network = _network(inst, default_network)
    argv, script = _argv(run, inst)
    mounts = []
    for spec in run_mounts(inst, filename):
        spec = {k: run.word(v) for k, v in spec.items()}
        if spec["type"] not in ("bind", "cache", "tmpfs", "secret", "ssh"):
            raise InvalidArgument(f"RUN --mount=type={spec['type']} is not supported "
                                  "(bind, cache, tmpfs, secret are)")
        mounts.append(spec)
    args = run.run_args()
    env = list(run.state.config.get("Env") or [])
    env += [f"{k}={v}" for k, v in args.items()]
    env += [f"{k}={v}" for k, v in proxies.items() if not any(e.startswith(k + "=") for e in env)]
    spec = RunSpec(argv, env, run.state.workdir, run.state.config.get("User") or "", network)
    prefix = f"|{len(args)} " + " ".join(f"{k}={v}" for k, v in args.items()) + " " if args else ""
    created_by = "RUN " + prefix + " ".join(argv)
    extra = {"network": network, "mounts": mounts, "user": spec.user, "cwd": spec.cwd,
             "script": hashlib.sha256(script).hexdigest() if script else ""}
    canonical = "RUN " + json.dumps({"argv": argv, **extra}, sort_keys=True)
    return RunPlan(spec, created_by, canonical, args, mounts, script)


def mount_for(spec: dict[str, str], source: str) -> Mount:
    readonly = spec["type"] in ("bind", "secret") and spec.get("rw", spec.get("readwrite", "")) != "true"
    if spec.get("readonly", spec.get("ro", "")) == "true":
        readonly = True
    return Mount("tmpfs" if spec["type"] == "tmpfs" else "bind", source, spec["target"], readonly)


def proxy_args(build_args: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in build_args.items() if k in PROXY_ARGS}
