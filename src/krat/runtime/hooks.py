"""OCI lifecycle hooks: programs run at fixed points, with the state document on stdin.

Where each kind runs (config-runtime hooks section of the spec):
    prestart, createRuntime   the caller of create, once the container's mounts exist
    createContainer           the init, in the container's namespaces, before pivot_root
    startContainer            the init, inside the container, just before execve
    poststart                 the caller of start, once the process runs (failure: warning only)
    poststop                  the caller of delete, after cleanup (failure: warning only)

Only os and _signal here: the init runs hooks after pivot_root, where nothing can be imported
(and the signal module itself would cost `krat exec` its enum import).
"""

from __future__ import annotations

import _signal
import os
import time

from krat.errors import InvalidArgument
from krat.oci.process import Hook


def state_document(container_id: str, status: str, pid: int, bundle: str, annotations: dict) -> dict:
    return {"ociVersion": "1.0.2", "id": container_id, "status": status, "pid": pid, "bundle": bundle,
            "annotations": annotations}


def run_hooks(kind: str, hooks: tuple[Hook, ...], state: bytes) -> None:
    for hook in hooks:
        run_hook(kind, hook, state)


def run_hook(kind: str, hook: Hook, state: bytes) -> None:
    """Run one hook to completion; InvalidArgument naming it if it fails or times out."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _exec_hook(hook, r, w)
    os.close(r)
    try:
        os.write(w, state)
    except BrokenPipeError:
        pass  # a hook need not read its stdin
    finally:
        os.close(w)
    code = _wait(pid, hook.timeout)
    if code is None:
        raise InvalidArgument(f"{kind} hook {hook.path} timed out after {hook.timeout}s")
    if code != 0:
        raise InvalidArgument(f"{kind} hook {hook.path} failed with exit status {code}")


def _exec_hook(hook: Hook, r: int, w: int) -> None:
    try:
        os.close(w)
        os.dup2(r, 0)
        for sig in (_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGINT, _signal.SIGTERM):
            _signal.signal(sig, _signal.SIG_DFL)
        env = dict(item.split("=", 1) for item in hook.env if "=" in item)
        os.execve(hook.path, list(hook.args) or [hook.path], env)
    except BaseException:  # noqa: BLE001 - a forked child must never return
        os._exit(127)


def _wait(pid: int, timeout: int | None) -> int | None:
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.0005
    while True:
        done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:  # type: ignore[operator]
            os.kill(pid, _signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
