"""`krat wait` against a private dockerd, step by step: the same commands, the same answers.

Docker's `wait` (condition not-running, the CLI's default) is met by any container that is not
running, so a created, never started container answers at once with 0, as Podman's does; it
does not block until the container has been started and has exited.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from engine_helpers import assert_nothing_left

pytestmark = [pytest.mark.interop, pytest.mark.root]


class Engines:
    """Runs one CLI step on both engines; returns (krat's, docker's) (exit code, stdout lines)."""

    def __init__(self, krat, docker) -> None:
        self.krat, self.docker = krat, docker

    def both(self, *args: str, timeout: float = 60):
        ours = self.krat(*args, timeout=timeout)
        theirs = self.docker(*args, timeout=timeout)
        return ((ours.returncode, ours.stdout.split()), (theirs.returncode, theirs.stdout.decode().split()))

    def create(self, name: str, *cmd: str) -> None:
        self.krat.ok("create", "--name", name, "busybox", *cmd)
        self.docker.ok("create", "--name", name, "--network", "none", "busybox", *cmd)


@pytest.fixture
def engines(kr, dockerd_peer, tmp_path):
    archive = tmp_path / "busybox.tar"
    kr.ok("save", "-o", str(archive), "busybox:latest")
    dockerd_peer.ok("load", "-i", str(archive))
    kr.env.pop("KRAT_RUNTIME", None)
    yield Engines(kr, dockerd_peer)
    ids = dockerd_peer("ps", "-aq").stdout.decode().split()
    if ids:
        dockerd_peer("rm", "-f", *ids)
    ids = kr("ps", "-aq").stdout.split()
    if ids:
        kr("rm", "-f", *ids)


def test_wait_on_a_created_container_answers_at_once_as_docker(engines):
    engines.create("never", "sh", "-c", "exit 3")
    t0 = time.monotonic()
    ours, theirs = engines.both("wait", "never", timeout=10)
    assert ours == theirs == (0, ["0"])
    assert time.monotonic() - t0 < 8
    # ... and starting it afterwards gives the real exit code to the next wait.
    engines.krat.ok("start", "never")
    engines.docker.ok("start", "never")
    ours, theirs = engines.both("wait", "never")
    assert ours == theirs == (0, ["3"])


def test_wait_blocks_on_a_running_container_and_lists_each_code(engines):
    engines.create("done", "sh", "-c", "exit 4")
    engines.create("fresh", "true")
    engines.krat.ok("start", "done")
    engines.docker.ok("start", "done")
    for name, cli in (("krat", engines.krat), ("docker", engines.docker)):
        cli.ok("run", "-d", "--name", "slow", *(["--network", "none"] if name == "docker" else []),
               "busybox", "sh", "-c", "sleep 1; exit 5")
        t0 = time.monotonic()
        proc = cli("wait", "slow", "done", "fresh")
        assert proc.returncode == 0, (name, proc.stderr)
        out = proc.stdout if isinstance(proc.stdout, str) else proc.stdout.decode()
        assert out.split() == ["5", "4", "0"], name
        assert time.monotonic() - t0 > 0.5, f"{name} did not wait for the running container"


def test_wait_on_an_unknown_container_fails_as_docker(engines):
    ours, theirs = engines.both("wait", "no-such-box")
    assert ours[0] == theirs[0] == 1
    proc = engines.krat("wait", "no-such-box")
    assert proc.stderr.strip() == "Error: no such container: no-such-box"


def test_wait_while_the_created_container_is_removed(engines):
    engines.create("gone", "true")
    waiter = subprocess.Popen(engines.krat.argv("wait", "gone"), env=engines.krat.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    engines.krat.ok("rm", "gone")
    out, err = waiter.communicate(timeout=30)
    assert (waiter.returncode, out) in ((0, "0\n"), (1, "")), err  # before or after the rm: never a hang
    assert "Traceback" not in err
    assert_nothing_left(engines.krat)
