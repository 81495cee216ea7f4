"""Bundles, runtime drivers and fixtures for the OCI runtime conformance suite (krat-runtime and runc).

A bundle is the busybox_tar fixture extracted to a temp dir plus a config.json made
from base_config() (Docker's defaults: its 14 capabilities, masked and read-only paths,
mounts, devices, krat's default seccomp profile), mutated per test. Every container a
test creates is force-deleted afterwards and its cgroup checked gone, even on failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "src"))

from krat.engine.profiles import default_seccomp  # noqa: E402

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
MASKED = ["/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
          "/sys/devices/virtual/powercap", "/sys/firmware"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
CGROUP_PARENT = "krat-conformance"
STRICT = os.environ.get("KRAT_TEST_STRICT") == "1"


def base_config(rootfs: str, cgroups_path: str, args: list[str]) -> dict:
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=box"],
            "cwd": "/",
            "capabilities": {s: list(DOCKER_CAPS) for s in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        },
        "root": {"path": rootfs, "readonly": False},
        "hostname": "box",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["ro", "nosuid", "noexec", "nodev"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "maskedPaths": list(MASKED),
            "readonlyPaths": list(READONLY),
            "seccomp": default_seccomp(DOCKER_CAPS),
        },
    }


@dataclass
class Runtime:
    name: str
    root: Path
    env: dict[str, str]
    created: list[str] = field(default_factory=list)

    def argv(self, *args: str, log: str | None = None) -> list[str]:
        head = [sys.executable, "-m", "krat.runtime.cli"] if self.name == "krat" else ["runc"]
        if log:
            head += ["--log", log, "--log-format", "json"]
        return [*head, "--root", str(self.root), *args]

    def __call__(self, *args: str, timeout: float = 60, log: str | None = None, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        return subprocess.run(self.argv(*args, log=log), env=self.env, timeout=timeout, text=True, **kwargs)

    def new_id(self) -> str:
        container_id = f"kc-{uuid.uuid4().hex[:12]}"
        self.created.append(container_id)
        return container_id

    def state(self, container_id: str) -> dict:
        proc = self("state", container_id)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


@dataclass
class Bundle:
    path: Path
    rootfs: Path
    config: dict

    def write(self) -> str:
        (self.path / "config.json").write_text(json.dumps(self.config))
        return str(self.path)


def cgroup_dirs(container_id: str) -> list[Path]:
    return [p for p in Path("/sys/fs/cgroup").glob(f"*/{CGROUP_PARENT}/{container_id}")] + \
        [p for p in Path("/sys/fs/cgroup").glob(f"{CGROUP_PARENT}/{container_id}")]


def configure(rt: Runtime, b: Bundle, args: list[str], **process) -> tuple[str, str]:
    """Point the bundle at `args` with a fresh id and cgroup; return (id, bundle dir)."""
    container_id = rt.new_id()
    b.config["process"]["args"] = args
    b.config["process"].update(process)
    b.config["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/{container_id}"
    return container_id, b.write()


def run(rt: Runtime, b: Bundle, args: list[str], timeout: float = 60, **process) -> subprocess.CompletedProcess:
    container_id, path = configure(rt, b, args, **process)
    return rt("run", "--bundle", path, container_id, timeout=timeout, stdin=subprocess.DEVNULL)



def create(rt: Runtime, b: Bundle, args: list[str], log: Path, **process) -> str:
    """`create` a container whose stdio goes to `log` (a pipe would keep the caller waiting)."""
    container_id, path = configure(rt, b, args, **process)
    with open(log, "w") as out:
        proc = rt("create", "--bundle", path, container_id, capture_output=False, stdout=out, stderr=out,
                  stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, log.read_text()
    return container_id


def wait_status(rt: Runtime, container_id: str, status: str, timeout: float = 20) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        doc = rt.state(container_id)
        if doc["status"] == status or time.monotonic() > deadline:
            assert doc["status"] == status, doc
            return doc
        time.sleep(0.02)


# --- fixtures: test modules import them by name (a second conftest.py would shadow the root one) ---


def _runtime(name: str, tmp_path: Path):
    if name == "runc" and not shutil.which("runc"):
        if STRICT:
            pytest.fail("runc is not installed (scripts/setup.sh installs it)")
        pytest.skip("runc is not installed (scripts/setup.sh installs it)")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src")
    rt = Runtime(name, tmp_path / "state", env)
    yield rt
    for container_id in rt.created:
        rt("delete", "--force", container_id)
        for d in cgroup_dirs(container_id):
            try:
                d.rmdir()
            except OSError:
                pass
    remove_empty_cgroups(CGROUP_PARENT)


def remove_empty_cgroups(parent: str) -> None:
    """The parent cgroup of the tests' containers, where no other test still has one."""
    for d in list(Path("/sys/fs/cgroup").glob(f"*/{parent}")) + list(Path("/sys/fs/cgroup").glob(parent)):
        try:
            d.rmdir()
        except OSError:
            pass  # busy: another test's container is still in it


@pytest.fixture(params=["krat", pytest.param("runc", marks=pytest.mark.interop)])
def runtime(request, tmp_path: Path) -> Runtime:
    """Each OCI runtime in turn: the suite is the contract."""
    yield from _runtime(request.param, tmp_path)


@pytest.fixture
def krat_runtime(tmp_path: Path) -> Runtime:
    """krat-runtime alone, for what runc does not promise (explicit exec error messages)."""
    yield from _runtime("krat", tmp_path)


@pytest.fixture(scope="session")
def rootfs_template(busybox_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("busybox-rootfs")
    subprocess.run(["tar", "-xf", str(busybox_tar), "-C", str(out)], check=True)
    out.chmod(0o755)  # mktemp makes it 0700: a non-root container user could not even reach /bin
    return out


@pytest.fixture
def bundle(rootfs_template: Path, tmp_path: Path) -> Bundle:
    path = tmp_path / "bundle"
    rootfs = path / "rootfs"
    path.mkdir()
    subprocess.run(["cp", "-a", str(rootfs_template), str(rootfs)], check=True)
    return Bundle(path, rootfs, base_config("rootfs", "", ["true"]))


