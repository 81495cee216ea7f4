"""Instructions that only change the image config: ENV, LABEL, ARG, EXPOSE, VOLUME,
USER, CMD, ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER.

Each handler updates the stage's state and returns the history `created_by` text
(which is also the instruction's canonical form for the cache key) and the set of
variables its substitution used. Variables are substituted only where Docker does.
"""

from __future__ import annotations

import json
import re

from krat.build.dockerfile import Instruction
from krat.build.imageconfig import command_line, healthcheck, port_key
from krat.build.state import BuildError, StageRun
from krat.errors import InvalidArgument

_SIGNALS = {"HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE",
            "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
            "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS", "POLL", "IOT"}


def go_quote_list(items: list[str]) -> str:
    """Go's %q of a []string: ["a" "b"] (history text, as Docker writes it)."""
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


def _pairs(inst: Instruction) -> list[tuple[str, str]]:
    args = inst.args
    if not args:
        raise InvalidArgument(f"{inst.keyword} requires at least one argument")
    return [(args[i], args[i + 1]) for i in range(0, len(args) - 1, 2)]


def _flags(inst: Instruction, allowed: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for flag in inst.flags:
        name, _, value = flag[2:].partition("=")
        if name.lower() not in allowed:
            raise InvalidArgument(f"unknown flag: --{name}")
        out[name.lower()] = value
    return out


def env(run: StageRun, inst: Instruction, used: set[str]) -> str:
    _flags(inst, ())
    parts = []
    for key, value in _pairs(inst):
        key, value = run.word(key, used), run.word(value, used)
        if not key:
            raise InvalidArgument("ENV names can not be blank")
        run.state.set_env(key, value)
        run.scope[key] = value
        parts.append(f"{key}={value}")
    return "ENV " + " ".join(parts)


def label(run: StageRun, inst: Instruction, used: set[str]) -> str:
    _flags(inst, ())
    labels = dict(run.state.config.get("Labels") or {})
    parts = []
    for key, value in _pairs(inst):
        key, value = run.word(key, used), run.word(value, used)
        if not key:
            raise InvalidArgument("LABEL names can not be blank")
        labels[key] = value
        parts.append(f"{key}={value}")
    run.state.config["Labels"] = labels
    return "LABEL " + " ".join(parts)


def arg(run: StageRun, inst: Instruction, used: set[str], build_args: dict[str, str],
        meta_env: dict[str, str]) -> str:
    _flags(inst, ())
    if not inst.args:
        raise InvalidArgument("ARG requires at least one argument")
    texts = []
    for word in inst.args:
        name, eq, default = word.partition("=")
        name = run.word(name, used)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or "-"):
            raise InvalidArgument(f"invalid ARG name {name!r}")
        value: str | None = None
        if name in build_args:
            value = build_args[name]
        elif eq:
            value = run.word(default, used)
        elif name in meta_env:
            value = meta_env[name]
        run.args[name] = value
        if value is not None:
            run.scope[name] = value
        elif name not in run.state.env():
            run.scope.pop(name, None)
        texts.append(f"{name}={value}" if value is not None else name)
    return "ARG " + " ".join(texts)


def expose(run: StageRun, inst: Instruction, used: set[str]) -> str:
    _flags(inst, ())
    if not inst.args:
        raise InvalidArgument("EXPOSE requires at least one argument")
    ports = dict(run.state.config.get("ExposedPorts") or {})
    for raw in inst.args:
        for spec in run.words(raw, used):
            for key in port_key(spec):
                ports[key] = {}
    run.state.config["ExposedPorts"] = ports
    return "EXPOSE map[" + " ".join(f"{k}:{{}}" for k in sorted(ports)) + "]"


def volume(run: StageRun, inst: Instruction, used: set[str]) -> str:
    _flags(inst, ())
    if not inst.args:
        raise InvalidArgument("VOLUME requires at least one argument")
    volumes = dict(run.state.config.get("Volumes") or {})
    added = []
    for raw in inst.args:
        path = run.word(raw, used)
        if not path:
            raise InvalidArgument("VOLUME specified can not be an empty string")
        volumes[path] = {}
        added.append(path)
    run.state.config["Volumes"] = volumes
    return "VOLUME [" + " ".join(added) + "]"


def user(run: StageRun, inst: Instruction, used: set[str]) -> str:
    _flags(inst, ())
    if len(inst.args) != 1:
        raise InvalidArgument("USER requires exactly one argument")
    run.state.config["User"] = run.word(inst.args[0], used)
    return f"USER {run.state.config['User']}"


def cmd(run: StageRun, inst: Instruction, used: set[str]) -> str:
    _flags(inst, ())
    argv = command_line(run.state, inst.args, inst.json)
    run.state.config["Cmd"] = argv
    run.state.config["ArgsEscaped"] = True
    run.cmd_set = True
    return "CMD " + go_quote_list(argv)


def entrypoint(run: StageRun, inst: Instruction, used: set[str]) -> str:
    _flags(inst, ())
    argv = command_line(run.state, inst.args, inst.json)
    run.state.config["Entrypoint"] = argv
    if not run.cmd_set:
        run.state.config.pop("Cmd", None)  # a base image's CMD does not survive a new ENTRYPOINT
    return "ENTRYPOINT " + go_quote_list(argv)


def shell(run: StageRun, inst: Instruction, used: set[str]) -> str:
    _flags(inst, ())
    if not inst.json or not inst.args:
        raise InvalidArgument("SHELL requires the arguments to be in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]")
    run.state.config["Shell"] = list(inst.args)
    return "SHELL " + go_quote_list(inst.args)


def stopsignal(run: StageRun, inst: Instruction, used: set[str]) -> str:
    _flags(inst, ())
    if len(inst.args) != 1:
        raise InvalidArgument("STOPSIGNAL requires exactly one argument")
    signal = run.word(inst.args[0], used)
    name = signal.upper().removeprefix("SIG")
    if not (signal.isdigit() or name in _SIGNALS or re.fullmatch(r"RTM(IN|AX)([+-]\d+)?", name)):
        raise InvalidArgument(f"invalid signal: {signal}")
    run.state.config["StopSignal"] = signal
    return f"STOPSIGNAL {signal}"


def health(run: StageRun, inst: Instruction, used: set[str]) -> str:
    flags = _flags(inst, ("interval", "timeout", "start-period", "start-interval", "retries"))
    check = healthcheck(inst.args, inst.json, flags)
    run.state.config["Healthcheck"] = check
    return "HEALTHCHECK " + json.dumps(check, sort_keys=True)


def onbuild(run: StageRun, inst: Instruction, used: set[str]) -> str:
    if inst.sub is None:
        raise InvalidArgument("ONBUILD requires an instruction to run later")
    expression = re.sub(r"^\s*onbuild\s+", "", inst.original, flags=re.IGNORECASE)
    triggers = list(run.state.config.get("OnBuild") or [])
    triggers.append(expression)
    run.state.config["OnBuild"] = triggers
    return "ONBUILD " + expression


def maintainer(run: StageRun, inst: Instruction, used: set[str]) -> str:
    if len(inst.args) != 1:
        raise InvalidArgument("MAINTAINER requires exactly one argument")
    run.state.author = inst.args[0]
    return f"MAINTAINER {inst.args[0]}"


HANDLERS = {
    "ENV": env, "LABEL": label, "EXPOSE": expose, "VOLUME": volume, "USER": user, "CMD": cmd,
    "ENTRYPOINT": entrypoint, "SHELL": shell, "STOPSIGNAL": stopsignal, "HEALTHCHECK": health,
    "ONBUILD": onbuild, "MAINTAINER": maintainer,
}


def unsupported(inst: Instruction, where: str) -> BuildError:
    return BuildError(f"{where}: {inst.keyword} cannot be used here")
