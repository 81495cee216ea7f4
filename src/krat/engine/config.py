"""Where krat keeps its state, for root and rootless users.

Storage root: --root, else $KRAT_ROOT, else /var/lib/krat (root) or
$XDG_DATA_HOME/krat. Runtime root (pids, sockets, mounts; tmpfs): --runroot, else
$KRAT_RUNROOT, else /run/krat (root) or $XDG_RUNTIME_DIR/krat.
"""

from __future__ import annotations

import os

from krat.oci.records import record


@record(frozen=True)
class Paths:
    """The storage root and the runtime root (absolute paths, str), and what lives below them.

    Plain strings and os.path, not pathlib.Path: pathlib's imports (re, fnmatch, urllib.parse,
    ipaddress ...) cost `krat run` ~7 ms; a module that wants a Path makes one
    (`Path(paths.content)`). A record, not a dataclass: `krat exec` uses the default_*
    functions below and must not pay for dataclasses.
    """

    root: str
    runroot: str

    @classmethod
    def resolve(cls, root: str | None = None, runroot: str | None = None) -> "Paths":
        return cls(os.path.abspath(root or default_root()), os.path.abspath(runroot or default_runroot()))

    @property
    def db(self) -> str:
        return os.path.join(self.root, "krat.db")

    @property
    def content(self) -> str:
        return os.path.join(self.root, "content")

    @property
    def layers(self) -> str:
        return os.path.join(self.root, "layers")

    @property
    def containers(self) -> str:
        return os.path.join(self.root, "containers")

    @property
    def volumes(self) -> str:
        return os.path.join(self.root, "volumes")

    @property
    def tmp(self) -> str:
        return os.path.join(self.root, "tmp")

    @property
    def run_containers(self) -> str:
        return os.path.join(self.runroot, "containers")

    @property
    def rootless(self) -> bool:
        return os.geteuid() != 0


def default_root() -> str:
    env = os.environ.get("KRAT_ROOT")
    if env:
        return env
    if os.geteuid() == 0:
        return "/var/lib/krat"
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "krat")


def default_runroot() -> str:
    env = os.environ.get("KRAT_RUNROOT")
    if env:
        return env
    if os.geteuid() == 0:
        return "/run/krat"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/krat-run-{os.geteuid()}"
    return os.path.join(runtime, "krat")


def state_root(binary: str, runroot: str) -> str:
    """The state directory of a container runtime (runc --root): one per runtime under the runroot."""
    return os.path.join(runroot, "runtime", "krat" if binary in ("", "krat") else os.path.basename(binary))
