"""Private instances of the real engines, for interop tests (`@pytest.mark.interop`).

    with Dockerd() as docker:          # a dockerd of its own: data-root, exec-root, socket
        docker("load", "-i", path)     # -> CompletedProcess; docker.ok(...) asserts success
    with Podman() as podman:           # podman with its own root, runroot, containers.conf
        podman.ok("load", "-i", path)

or as fixtures (imported into tests/conftest.py): `dockerd_peer`, `podman_peer`.

Nothing global is touched: every path lives in a fresh short temp dir (unix socket paths
must stay under 108 bytes), dockerd gets --bridge=none --iptables=false --ip6tables=false
and a unique cgroup parent, podman gets its own storage.conf and containers.conf (runc,
default_ulimits = [] because root here lacks CAP_SYS_RESOURCE). On exit, containers are
stopped, the daemon is terminated (only the process started here), mounts below the temp
dir are detached and the dir is removed. Run containers with `--network none`.
Podman's networks live in its own config dir too; what its network backend leaves on the
host anyway (iptables chains and tables, bridges, CNI address files) is removed when it
stops, and only that (tests/podman_net.py).

A peer that cannot start FAILS the test with its log's tail: interop tests must run in CI.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

import podman_net

DOCKER = "/usr/local/bin/docker" if Path("/usr/local/bin/docker").exists() else (shutil.which("docker") or "docker")
START_TIMEOUT_S = 60


def _unmount_below(path: Path) -> None:
    prefix = str(path.resolve()) + "/"
    try:
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    except OSError:
        return
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _remove_cgroups(name: str) -> None:
    base = Path("/sys/fs/cgroup")
    for folder in [base / name, *(p / name for p in base.iterdir() if p.is_dir())]:
        if folder.is_dir():
            for sub in sorted(folder.rglob("*"), key=lambda p: len(str(p)), reverse=True):
                if sub.is_dir():
                    try:
                        sub.rmdir()
                    except OSError:
                        pass
            try:
                folder.rmdir()
            except OSError:
                pass


def in_private_netns() -> bool:
    """True inside a network namespace other than the one bench/run --private-net started
    in: it leaves that namespace's inode in KRAT_BENCH_PRIVATE_NET."""
    outer = os.environ.get("KRAT_BENCH_PRIVATE_NET", "")
    return outer.isdigit() and os.stat("/proc/self/ns/net").st_ino != int(outer)


def _require_private_netns(name: str) -> bool:
    """A peer's own networking (bridges, iptables rules, CNI state) changes the host's network
    and is not all undone when it stops: allowed only inside a private network namespace."""
    if not in_private_netns():
        raise RuntimeError(f"{name} with networking needs a private network namespace (bench/run --private-net)")
    return True


class Peer:
    """Runs one engine's CLI against private state."""

    name = "peer"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"kp-{self.name[:2]}-", dir="/tmp"))
        self.env = dict(os.environ)

    def argv(self, *args: str) -> list[str]:
        raise NotImplementedError

    def __call__(self, *args: str, timeout: float = 300, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), env=self.env, capture_output=True, timeout=timeout, input=input)

    def ok(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        proc = self(*args, **kwargs)
        if proc.returncode != 0:
            raise AssertionError(f"{self.name} {' '.join(args)} exited {proc.returncode}: "
                                 f"{proc.stderr.decode(errors='replace')[-2000:]}")
        return proc

    def text(self, *args: str, **kwargs) -> str:
        return self.ok(*args, **kwargs).stdout.decode()


class Dockerd(Peer):
    """A private dockerd; `docker` commands go to its own socket."""

    name = "dockerd"

    def __init__(self, networking: bool = False) -> None:
        super().__init__()
        self.networking = networking and _require_private_netns("dockerd")
        self.socket = self.dir / "docker.sock"
        self.log = self.dir / "dockerd.log"
        self.cgroup_parent = f"krat-peer-{uuid.uuid4().hex[:8]}"
        self.proc: subprocess.Popen | None = None
        (self.dir / "client").mkdir()
        self.env["DOCKER_CONFIG"] = str(self.dir / "client")
        self.env.pop("DOCKER_HOST", None)

    def argv(self, *args: str) -> list[str]:
        return [DOCKER, "-H", f"unix://{self.socket}", *args]

    def start(self) -> "Dockerd":
        binary = shutil.which("dockerd")
        if not binary:
            pytest.fail("dockerd is not installed (scripts/setup.sh installs docker.io)")
        config = self.dir / "daemon.json"
        config.write_text("{}")
        cmd = [binary, "--data-root", str(self.dir / "data"), "--exec-root", str(self.dir / "exec"),
               "--pidfile", str(self.dir / "dockerd.pid"), "-H", f"unix://{self.socket}",
               "--config-file", str(config), "--cgroup-parent", f"/{self.cgroup_parent}",
               "--storage-driver", "overlay2"]
        if not self.networking:
            cmd += ["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
                    "--ip-masq=false", "--userland-proxy=false"]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"dockerd exited with {self.proc.returncode} at start:\n{_tail(self.log)}")
            if self.socket.exists() and self("version", timeout=20).returncode == 0:
                return self
            time.sleep(0.3)
        log = _tail(self.log)
        self.stop()
        pytest.fail(f"dockerd did not answer within {START_TIMEOUT_S}s:\n{log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                ids = self("ps", "-aq", timeout=30).stdout.decode().split()
                if ids:
                    self("rm", "-f", *ids, timeout=60)
            except subprocess.TimeoutExpired:
                pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: only what it started
                self.proc.wait(timeout=10)
        _unmount_below(self.dir)
        _remove_cgroups(self.cgroup_parent)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Dockerd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


CONTAINERS_CONF = """\
[containers]
default_ulimits = []
netns = "none"
[network]
network_config_dir = "{dir}/networks"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


class Podman(Peer):
    """podman with private storage; no daemon, so nothing to start."""

    name = "podman"

    def __init__(self, networking: bool = False) -> None:
        super().__init__()
        self.binary = shutil.which("podman")
        root, runroot = self.dir / "root", self.dir / "runroot"
        conf = CONTAINERS_CONF.format(dir=self.dir)
        if networking and _require_private_netns("podman"):
            conf = conf.replace('netns = "none"\n', "")
        (self.dir / "containers.conf").write_text(conf)
        (self.dir / "networks").mkdir()
        self.host_net = podman_net.snapshot()
        self.cni_state = podman_net.cni_state()
        (self.dir / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{root}"\nrunroot = "{runroot}"\n')
        self.env["CONTAINERS_CONF"] = str(self.dir / "containers.conf")
        self.env["CONTAINERS_STORAGE_CONF"] = str(self.dir / "storage.conf")
        self.env["TMPDIR"] = str(self.dir)

    def argv(self, *args: str) -> list[str]:
        return [self.binary or "podman", "--root", str(self.dir / "root"), "--runroot", str(self.dir / "runroot"),
                "--tmpdir", str(self.dir / "tmp"), "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--runtime", "runc", *args]

    def start(self) -> "Podman":
        if not self.binary:
            pytest.fail("podman is not installed (scripts/setup.sh installs it)")
        proc = self("info", timeout=60)
        if proc.returncode != 0:
            self.stop()
            pytest.fail(f"podman cannot run here: {proc.stderr.decode(errors='replace')[-1500:]}")
        return self

    def stop(self) -> None:
        if self.binary:
            self("rm", "-af", "-t", "0", timeout=120)
        self.network_problems = podman_net.remove_podman_leftovers(self.host_net)
        podman_net.remove_cni_state(self.cni_state, self.dir / "networks")
        # A container's cleanup process (conmon runs `podman container cleanup` at its exit) may
        # still be at work after `rm -af` and mount the storage's overlay dir on itself again
        # after we unmounted it: seen once in a bench run, that mount was then left behind.
        for _ in range(25):
            _unmount_below(self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)
            if not self.dir.exists():
                break
            time.sleep(0.2)

    def __enter__(self) -> "Podman":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="module")
def dockerd_peer():
    """A private dockerd for this test module (starting one costs a few seconds)."""
    with Dockerd() as peer:
        yield peer


@pytest.fixture(scope="module")
def podman_peer():
    with Podman() as peer:
        yield peer
