"""The in-process Python API the engine's monitor calls (krat.runtime.create/start/wait/...)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "conformance" / "runtime"))
from runtime_bundles import base_config, remove_empty_cgroups  # noqa: E402

import krat.runtime as rt  # noqa: E402
from krat.errors import CommandNotFound, Conflict, InvalidArgument  # noqa: E402

pytestmark = pytest.mark.root


@pytest.fixture
def env(busybox_tar, tmp_path):
    """A bundle, a state root, and cleanup of every container made (even when the test fails)."""
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    subprocess.run(["tar", "-xf", str(busybox_tar), "-C", str(bundle / "rootfs")], check=True)
    os.chmod(bundle / "rootfs", 0o755)
    state_root = str(tmp_path / "state")
    made: list[str] = []

    def configure(args, **changes):
        container_id = f"kapi-{uuid.uuid4().hex[:10]}"
        made.append(container_id)
        config = base_config("rootfs", f"/krat-api-test/{container_id}", args)
        config.update(changes)
        (bundle / "config.json").write_text(json.dumps(config))
        return container_id

    yield configure, str(bundle), state_root
    # create/exec made this (pytest's) process a child subreaper: undo it, or every process that a
    # later test orphans (a detached exec, a monitor) becomes pytest's unreaped zombie, and a
    # container's cgroup with a zombie in it never empties (`krat stop` then waits forever).
    from krat.runtime import syscalls as sc

    sc.LinuxSyscalls().prctl(sc.PR_SET_CHILD_SUBREAPER, 0)
    for container_id in made:
        try:
            rt.delete(container_id, force=True, state_root=state_root)
        except Exception:
            pass
        for d in Path("/sys/fs/cgroup").glob(f"*/krat-api-test/{container_id}"):
            d.rmdir()
    remove_empty_cgroups("krat-api-test")


def test_create_start_wait_with_pipes(env):
    configure, bundle, root = env
    container_id = configure(["sh", "-c", "read x; echo out:$x; echo err >&2; exit 5"])
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = rt.create(container_id, bundle, root, stdio=(in_r, out_w, out_w))
    for fd in (in_r, out_w):
        os.close(fd)
    assert rt.state(container_id, root).status.value == "created"
    rt.start(container_id, root)
    os.write(in_w, b"hi\n")
    os.close(in_w)
    assert rt.wait(pid) == 5  # the caller is the parent (child subreaper): it gets the status
    with os.fdopen(out_r) as f:
        assert sorted(f.read().split()) == ["err", "out:hi"]
    assert rt.state(container_id, root).status.value == "stopped"
    rt.delete(container_id, state_root=root)
    assert rt.list_states(root) == []


def test_missing_command_raises_127_and_leaves_nothing(env):
    configure, bundle, root = env
    container_id = configure(["nope"])
    with pytest.raises(CommandNotFound) as info:
        rt.create(container_id, bundle, root)
    assert info.value.exit_code == 127 and "nope" in info.value.message
    assert rt.list_states(root) == []
    assert not list(Path("/sys/fs/cgroup").glob(f"*/krat-api-test/{container_id}"))


def test_oom_killed_is_reported(env):
    configure, bundle, root = env
    container_id = configure(["sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a)"])
    config = json.loads(Path(bundle, "config.json").read_text())
    config["linux"]["resources"]["memory"] = {"limit": 16 << 20, "swap": 16 << 20}
    Path(bundle, "config.json").write_text(json.dumps(config))
    pid = rt.create(container_id, bundle, root, stdio=None)
    rt.start(container_id, root)
    assert rt.wait(pid) == 137
    assert rt.oom_killed(container_id, root)


def test_exec_pause_resume_kill(env):
    configure, bundle, root = env
    container_id = configure(["sleep", "1000"], hostname="api-box")
    pid = rt.create(container_id, bundle, root, stdio=None)
    rt.start(container_id, root)
    from krat.oci.process import Process

    out_r, out_w = os.pipe()
    epid = rt.exec_process(container_id, Process(("hostname",), env=("PATH=/bin",)), root, stdio=(0, out_w, 2))
    os.close(out_w)
    # exec pointed our children's pid namespace at the container's to fork into it, and back
    assert os.readlink("/proc/self/ns/pid_for_children") == os.readlink("/proc/self/ns/pid")
    assert rt.wait(epid) == 0
    with os.fdopen(out_r) as f:
        assert f.read().strip() == "api-box"
    rt.pause(container_id, root)
    assert rt.state(container_id, root).status.value == "paused"
    with pytest.raises(Conflict, match="paused"):
        rt.exec_process(container_id, Process(("true",)), root)
    rt.resume(container_id, root)
    assert pid in rt.processes(container_id, root)
    with pytest.raises(InvalidArgument):
        rt.kill(container_id, "SIGBOGUS", state_root=root)
    rt.kill(container_id, "KILL", state_root=root)
    assert rt.wait(pid) == 137
    assert not rt.oom_killed(container_id, root)


def _exec_output(container_id: str, root: str, args: tuple[str, ...]) -> str:
    from krat.oci.process import Process

    out_r, out_w = os.pipe()
    epid = rt.exec_process(container_id, Process(args, env=("PATH=/bin",)), root, stdio=(0, out_w, 2))
    os.close(out_w)
    assert rt.wait(epid) == 0
    with os.fdopen(out_r) as f:
        return f.read()


def test_exec_gets_the_containers_seccomp_filter(env):
    """create keeps the compiled program (seccomp.bpf) for exec; without it exec compiles the profile."""
    configure, bundle, root = env
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
    container_id = configure(["sleep", "1000"])
    config = json.loads(Path(bundle, "config.json").read_text())
    config["linux"]["seccomp"] = profile
    Path(bundle, "config.json").write_text(json.dumps(config))
    rt.create(container_id, bundle, root, stdio=None)
    rt.start(container_id, root)
    kept = Path(root, container_id, "seccomp.bpf")
    assert kept.stat().st_size > 0 and kept.stat().st_size % 8 == 0
    probe = ("sh", "-c", "grep Seccomp: /proc/self/status; hostname x 2>&1; true")
    for _ in ("kept program", "compiled again"):
        out = _exec_output(container_id, root, probe)  # ENOSYS: the profile's own answer, not EPERM
        assert "Seccomp:\t2" in out and "not implemented" in out.lower(), out
        kept.unlink(missing_ok=True)


def _run_to_exit(container_id: str, bundle: str, root: str) -> str:
    out_r, out_w = os.pipe()
    try:
        pid = rt.create(container_id, bundle, root, stdio=(0, out_w, out_w))
    finally:
        os.close(out_w)
    rt.start(container_id, root)
    rt.wait(pid)
    with os.fdopen(out_r) as f:
        return f.read()


def test_links_in_the_rootfs_never_take_a_mount_or_node_outside_it(env, tmp_path):
    """An image's links are resolved as if its root were / (CVE-2019-19921 class): /dev
    pointing far up, /etc/hosts at a host file, and a device's own name a link to a host file
    put the tmpfs, the bind and the nodes inside the rootfs, and leave the host's files alone."""
    configure, bundle, root = env
    rootfs = Path(bundle, "rootfs")
    outside = tmp_path / "outside"          # host paths the links name
    outside.mkdir()
    (outside / "hosts").write_text("host file\n")
    (outside / "node").write_text("host file\n")
    escape = f"/tmp/krat-escape-{uuid.uuid4().hex[:8]}"
    (rootfs / "dev").rmdir()
    os.symlink("../../../../../../../.." + escape, rootfs / "dev")
    (rootfs / "etc" / "hosts").unlink(missing_ok=True)
    os.symlink(str(outside / "hosts"), rootfs / "etc" / "hosts")
    (bundle_hosts := Path(bundle, "hosts")).write_text("127.0.0.1 inside\n")
    container_id = configure(["sh", "-c", "cat /etc/hosts; test -c /dev/null && echo null-ok; test -p /dev/kfifo && "
                                          "echo fifo-ok; test -p /run/kfifo && echo run-fifo-ok"])
    config = json.loads(Path(bundle, "config.json").read_text())
    config["mounts"].append({"destination": "/etc/hosts", "type": "bind", "source": str(bundle_hosts),
                             "options": ["rbind", "rprivate"]})
    (rootfs / "run").mkdir(exist_ok=True)
    os.symlink(str(outside / "node"), rootfs / "run" / "kfifo")   # the node's own name: a link out
    config["linux"]["devices"] = [{"path": "/dev/kfifo", "type": "p", "fileMode": 0o600, "uid": 0, "gid": 0},
                                  {"path": "/run/kfifo", "type": "p", "fileMode": 0o600, "uid": 0, "gid": 0}]
    Path(bundle, "config.json").write_text(json.dumps(config))
    out = _run_to_exit(container_id, bundle, root)
    assert out.split() == ["127.0.0.1", "inside", "null-ok", "fifo-ok", "run-fifo-ok"], out
    assert not os.path.lexists(escape)
    assert (outside / "hosts").read_text() == "host file\n" and (outside / "node").read_text() == "host file\n"
    assert sorted(os.listdir(outside)) == ["hosts", "node"]
    rt.delete(container_id, state_root=root)
