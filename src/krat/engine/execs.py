"""exec: a new process in a running container, through the container's runtime.

The process inherits the container's environment, user, working directory and
capabilities (from its config.json) unless -e/-u/-w say otherwise, as in Docker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from krat.engine.runtimes import classify, open_runtime, read_log_error
from krat.engine.state import Status
from krat.errors import Conflict

if TYPE_CHECKING:
    from krat.engine.containers import Container, ContainerService


@dataclass(frozen=True)
class ExecSpec:
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    privileged: bool = False


def process_document(base: dict, spec: ExecSpec, user) -> dict:
    """The exec's process.json: the container's process with this exec's changes (pure)."""
    from krat.engine.ocigen import ALL_CAPS, merge_env

    proc = dict(base)
    proc["args"] = list(spec.args)
    proc["terminal"] = spec.tty
    env = [e for e in proc.get("env", []) if not (e.startswith("TERM=") and not spec.tty)]
    proc["env"] = merge_env(env, (["TERM=xterm"] if spec.tty else []) + list(spec.env))
    if spec.workdir:
        proc["cwd"] = spec.workdir
    if user is not None:
        u = {"uid": user.uid, "gid": user.gid}
        if user.additional_gids:
            u["additionalGids"] = list(user.additional_gids)
        proc["user"] = u
    if spec.privileged:
        caps = list(ALL_CAPS)
        proc["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    return proc


def run_exec(svc: "ContainerService", c: "Container", spec: ExecSpec) -> int:
    if c.status is Status.PAUSED:
        raise Conflict(f"container {c.name} is paused, unpause the container before exec")
    if c.status is not Status.RUNNING:
        raise Conflict(f"container {c.name} is not running")
    run_dir = svc.run_dir(c.id)
    with open(run_dir / "config.json") as f:
        config = json.load(f)
    user = None
    if spec.user:
        from krat.engine.bundle import resolve_user

        user = resolve_user(config["root"]["path"], spec.user)
    if spec.privileged and not c.spec.security.privileged:
        from krat.engine.bundle import host_capabilities

        caps = list(host_capabilities())
        process = process_document(config["process"], spec, user)
        process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    else:
        process = process_document(config["process"], spec, user)
    cfg = svc.monitor_config(c)
    runtime = open_runtime(cfg["runtime"], str(svc.paths.runroot))
    r, w = os.pipe()
    os.write(w, json.dumps(process).encode())  # a process.json fits a pipe's buffer
    os.close(w)
    log = str(run_dir / f"exec-{os.getpid()}.log")
    argv = runtime.exec_argv(c.id, f"/dev/fd/{r}", tty=spec.tty, detach=spec.detach, log=log)
    stdin = None if spec.interactive or spec.tty else subprocess.DEVNULL
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        proc = subprocess.Popen(argv, stdin=stdin, pass_fds=(r,), restore_signals=True)
        os.close(r)
        for s in old:
            signal.signal(s, lambda signum, _f: proc.send_signal(signum))
        code = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return finish(code, log)


def finish(code: int, log: str) -> int:
    """Map the runtime's own failure (exit 255 with an error logged) to Docker's 126/127."""
    message = read_log_error(log) if code == 255 or code == 1 else ""
    try:
        os.unlink(log)
    except OSError:
        pass
    if message:  # the runtime has printed it on our stderr already
        mapped = classify(message)
        return 126 if mapped == 125 else mapped
    return code
