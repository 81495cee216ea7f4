"""What `krat info` reports: storage paths, counts, and the kernel features krat relies on.

Each probe reads /proc or /sys (no subprocesses), so `info` stays fast."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from krat.engine.config import Paths


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def overlay_supported() -> bool:
    if "overlay" in _read("/proc/filesystems"):
        return True
    release = os.uname().release
    return any(Path(f"/lib/modules/{release}/kernel/fs/overlayfs").glob("overlay.ko*"))


def cgroup_version() -> str:
    """'2' (unified, or $KRAT_CGROUP2_ROOT on a hybrid host), '1' (legacy or hybrid), or 'none'."""
    if Path(os.environ.get("KRAT_CGROUP2_ROOT") or "/sys/fs/cgroup", "cgroup.controllers").exists():
        return "2"
    if Path("/sys/fs/cgroup").is_dir() and any(Path("/sys/fs/cgroup").iterdir()):
        return "1"
    return "none"


def user_namespaces() -> bool:
    value = _read("/proc/sys/user/max_user_namespaces").strip()
    return Path("/proc/self/ns/user").exists() and value not in ("", "0")


def seccomp_supported() -> bool:
    return any(line.startswith("Seccomp_filters:") or line.startswith("Seccomp:")
               for line in _read("/proc/self/status").splitlines())


def memory_total() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.system()


@dataclass(frozen=True)
class HostInfo:
    root: str
    runroot: str
    database: str
    content_store: str
    layers: str
    rootless: bool
    images: int
    containers: int
    storage_driver: str
    overlay: bool
    cgroup_version: str
    user_namespaces: bool
    seccomp: bool
    kernel: str
    operating_system: str
    architecture: str
    cpus: int
    memory: int
    python: str

    def to_dict(self) -> dict:
        return asdict(self)


def gather(paths: "Paths", images: int, containers: int) -> HostInfo:
    return HostInfo(
        root=str(paths.root), runroot=str(paths.runroot), database=str(paths.db),
        content_store=str(paths.content), layers=str(paths.layers), rootless=paths.rootless,
        images=images, containers=containers, storage_driver="overlay", overlay=overlay_supported(),
        cgroup_version=cgroup_version(), user_namespaces=user_namespaces(), seccomp=seccomp_supported(),
        kernel=os.uname().release, operating_system=os_name(), architecture=os.uname().machine,
        cpus=os.cpu_count() or 1, memory=memory_total(), python=platform.python_version(),
    )
