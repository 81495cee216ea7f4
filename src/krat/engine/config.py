"""Where krat keeps its state, for root and rootless users.

Storage root: --root, else $KRAT_ROOT, else /var/lib/krat (root) or
$XDG_DATA_HOME/krat. Runtime root (pids, sockets, mounts; tmpfs): --runroot, else
$KRAT_RUNROOT, else /run/krat (root) or $XDG_RUNTIME_DIR/krat.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # pathlib costs `krat exec` a few ms; see Paths
if TYPE_CHECKING:
    from pathlib import Path

from krat.oci.records import record


@record(frozen=True)
class Paths:
    """The storage root and the runtime root (pathlib.Path each), and what lives below them.

    A record, not a dataclass, and pathlib imported by resolve(): `krat exec` uses the
    default_* functions below and must not pay for dataclasses or pathlib.
    """

    root: Path
    runroot: Path

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
