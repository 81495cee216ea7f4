"""The README's main demo, end to end through the CLI, with examples/seed-app as it is.

test_demo_offline runs in CI: the base image python:3-bookworm and the app's wheels come
from the cache scripts/setup.sh prepares (scripts/demo-assets.sh); the base image is given
pip settings that install from a read-only /wheels only (`krat build -v`), and the build's
RUN steps have no network at all. Then: build, run with a published port, an HTTP answer
on 127.0.0.1, `krat ps`, an interactive `krat exec -it NAME bash` on a pty, `rm -f`, and
nothing left (container, mounts, veth, bridge, nftables table).

test_demo_script_online is the opt-in variant: scripts/demo itself, with pip reaching PyPI
(`KRAT_TEST_ONLINE=1 ./scripts/test tests/integration/demo`).
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import KratCLI, Terminal, skip_or_fail

REPO = Path(__file__).resolve().parents[3]
SEED_APP = REPO / "examples" / "seed-app"
NAME = "seed-demo-test"

pytestmark = [pytest.mark.root, pytest.mark.slow]

# pip in the derived base image: the wheel directory only, never an index (nor its version check)
OFFLINE_PIP = "ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels PIP_DISABLE_PIP_VERSION_CHECK=1\n"


def demo_assets() -> tuple[Path, Path]:
    """The cached base image archive and wheel directory, checked by the script that made them."""
    check = subprocess.run([str(REPO / "scripts" / "demo-assets.sh"), "--check"],
                           capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        skip_or_fail(check.stderr.strip() or "scripts/demo-assets.sh --check failed")
    cache = Path(os.environ.get("KRAT_TEST_CACHE", "/var/cache/krat-test"))
    return cache / "python-3-bookworm.tar", cache / "seed-app-wheels"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_published(krat: KratCLI, image: str) -> int:
    """`krat run -d -p PORT:5000` on a free random port; another one if that port was just taken."""
    for _ in range(3):
        port = free_port()
        proc = krat("run", "-d", "--name", NAME, "-p", f"{port}:5000", image)
        if proc.returncode == 0:
            return port
        assert "already allocated" in proc.stderr or "in use" in proc.stderr, proc.stderr
        krat("rm", "-f", NAME)
    raise AssertionError("no free host port in three tries")


def http_get(port: int, timeout: float = 30.0) -> str:
    """GET / on 127.0.0.1:PORT (straight to the socket: no proxy settings apply), until it answers."""
    end = time.monotonic() + timeout
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            assert resp.status == 200, resp.status
            return resp.read().decode()
        except (OSError, http.client.HTTPException):
            if time.monotonic() > end:
                raise
            time.sleep(0.2)
        finally:
            conn.close()


@dataclass(frozen=True)
class HostDevices:
    """What the running container brought to the host: all of it must go with `rm -f`."""

    bridge: str                 # kr-<network id[:10]>
    table: str                  # nftables `ip krat_<network id[:12]>`
    veths: tuple[str, ...]


def check_running_demo(krat: KratCLI, port: int) -> HostDevices:
    """The app answers on the published port, `krat ps` lists it, `exec -it bash` is a real shell.
    Returns what the removal check needs: the host devices this container brought."""
    hostname = krat.ok("inspect", "-f", "{{.Config.Hostname}}", NAME).stdout.strip()
    assert http_get(port) == f"Hello from krat! I am {hostname} (pid 1)\n"

    ps = krat.ok("ps").stdout
    row = next((line for line in ps.splitlines() if line.endswith(NAME)), None)
    assert row is not None, ps
    assert f"0.0.0.0:{port}->5000/tcp" in row and "mypythonapp" in row, ps

    term = Terminal(krat, "exec", "-it", NAME, "bash")
    try:
        term.expect(b"/app# ", timeout=20)              # root's prompt, in the image's WORKDIR
        term.send(b"echo answer=$((6*7)); python -c 'import flask; print(flask.__name__)'\r")
        term.expect(b"answer=42\r\n")                   # computed by bash, not our echoed input
        term.expect(b"flask\r\n")
        term.send(b"exit\r")
        assert term.wait() == 0
    finally:
        term.close()

    net_id = krat.ok("network", "inspect", "-f", "{{.Id}}", "bridge").stdout.strip()
    bridge = f"kr-{net_id[:10]}"
    links = subprocess.run(["ip", "-o", "link", "show", "master", bridge],
                           capture_output=True, text=True, check=True).stdout
    veths = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
    assert veths, f"no veth on {bridge}: {links}"
    table = f"krat_{net_id[:12]}"
    rules = subprocess.run(["nft", "list", "table", "ip", table],
                           capture_output=True, text=True, check=True).stdout
    assert f"dport {port}" in rules, rules                  # the published port is a kernel NAT rule
    return HostDevices(bridge, table, tuple(veths))


def remove_and_check_nothing_left(krat: KratCLI, devices: HostDevices) -> None:
    krat.ok("rm", "-f", NAME)
    assert krat.ok("ps", "-a", "-q").stdout.strip() == ""
    mounts = Path("/proc/mounts").read_text()
    for state in (krat.root, krat.runroot):
        assert f" {state}/" not in mounts, f"mounts left under {state}"
    for dev in (devices.bridge, *devices.veths):
        gone = subprocess.run(["ip", "link", "show", dev], capture_output=True)
        assert gone.returncode != 0, f"{dev} is left behind"
    table = subprocess.run(["nft", "list", "table", "ip", devices.table], capture_output=True)
    assert table.returncode != 0, f"nftables table {devices.table} is left behind"


def make_offline_base(krat: KratCLI, archive: Path, tmp_path: Path) -> None:
    """python:3-bookworm from the cached archive, re-tagged with pip pointed at /wheels only."""
    assert "python:3-bookworm" in krat.ok("load", "-i", str(archive)).stdout
    ctx = tmp_path / "offline-base"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM python:3-bookworm\n" + OFFLINE_PIP)
    krat.ok("build", "-q", "-t", "python:3-bookworm", str(ctx))


def test_demo_offline(krat: KratCLI, tmp_path: Path) -> None:
    archive, wheels = demo_assets()
    make_offline_base(krat, archive, tmp_path)
    try:
        build = krat("build", "--network", "none", "-v", f"{wheels}:/wheels:ro",
                     "-t", "mypythonapp", str(SEED_APP), timeout=300)
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        assert "Successfully installed" in build.stdout + build.stderr   # pip ran, from /wheels
        port = run_published(krat, "mypythonapp")
        devices = check_running_demo(krat, port)
        remove_and_check_nothing_left(krat, devices)
    finally:
        krat("rm", "-f", NAME)


@pytest.mark.online
def test_demo_script_online(krat: KratCLI) -> None:
    """scripts/demo as a user runs it (setup, base image, `krat build --host-ca` with pip
    from PyPI), on this test's private state."""
    port = free_port()
    env = dict(krat.env, KRAT_ROOT=str(krat.root), KRAT_RUNROOT=str(krat.runroot),
               DEMO_PORT=str(port), DEMO_NAME=NAME)
    try:
        proc = subprocess.run([str(REPO / "scripts" / "demo")], env=env, capture_output=True,
                              text=True, timeout=1200)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "Hello from krat!" in proc.stdout
        devices = check_running_demo(krat, port)
        remove_and_check_nothing_left(krat, devices)
    finally:
        krat("rm", "-f", NAME)
