"""Where krat keeps its state, for root and rootless users.

Storage root: --root, else $KRAT_ROOT, else /var/lib/krat (root) or
$XDG_DATA_HOME/krat. Runtime root (pids, sockets, mounts; tmpfs): --runroot, else
$KRAT_RUNROOT, else /run/krat (root) or $XDG_RUNTIME_DIR/krat.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing, dataclasses and pathlib cost `krat exec` ~10 ms; see Paths
if TYPE_CHECKING:
    from pathlib import Path


class Paths:
    """The storage root and the runtime root (pathlib.Path each), and what lives below them.

    A plain class rather than a dataclass: `krat exec` uses the default_* functions below
    and must not pay for dataclasses (nor pathlib, imported by resolve()).
    """

    __slots__ = ("root", "runroot")

    def __init__(self, root: Path, runroot: Path) -> None:
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "runroot", runroot)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Paths is immutable: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Paths) and (self.root, self.runroot) == (other.root, other.runroot)

    def __hash__(self) -> int:
        return hash((self.root, self.runroot))

    def __repr__(self) -> str:
        return f"Paths(root={self.root!r}, runroot={self.runroot!r})"

    @classmethod
    def resolve(cls, root: str | None = None, runroot: str | None = None) -> "Paths":
        from pathlib import Path

        return cls(Path(root or default_root()).absolute(), Path(runroot or default_runroot()).absolute())

    @property
    def db(self) -> Path:
        return self.root / "krat.db"

    @property
    def content(self) -> Path:
        return self.root / "content"

    @property
    def layers(self) -> Path:
        return self.root / "layers"

    @property
    def containers(self) -> Path:
        return self.root / "containers"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def run_containers(self) -> Path:
        return self.runroot / "containers"

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
