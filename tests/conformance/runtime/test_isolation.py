"""Isolation and Docker's security defaults, seen from inside the container, under both runtimes."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from runtime_bundles import DOCKER_CAPS, configure, create, run, wait_status
from runtime_bundles import bundle, krat_runtime, rootfs_template, runtime  # noqa: F401 - fixtures

pytestmark = pytest.mark.root

CAP_NUMBERS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5,
               "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13,
               "CAP_SYS_CHROOT": 18, "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29, "CAP_SETFCAP": 31}


def _status(text: str) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_namespaces_differ_from_the_host(runtime, bundle):
    kinds = ["pid", "net", "ipc", "uts", "mnt", "cgroup"]
    proc = run(runtime, bundle, ["sh", "-c", "for k in " + " ".join(kinds) + "; do readlink /proc/self/ns/$k; done"])
    assert proc.returncode == 0, proc.stderr
    inside = proc.stdout.split()
    host = [os.readlink(f"/proc/self/ns/{k}") for k in kinds]
    assert len(inside) == len(kinds)
    for kind, mine, theirs in zip(kinds, inside, host):
        assert mine != theirs, f"{kind} namespace is the host's"


def test_proc_is_mounted_and_host_pids_are_invisible(runtime, bundle):
    proc = run(runtime, bundle, ["sh", "-c", "echo $$; ls /proc | grep -E '^[0-9]+$' | wc -l"])
    pid1, count = proc.stdout.split()
    assert pid1 == "1", proc.stderr
    assert int(count) <= 5  # the shell and its pipeline: none of the host's processes


def test_sys_is_read_only_and_sysrq_trigger_not_writable(runtime, bundle):
    proc = run(runtime, bundle, ["sh", "-c",
                                 "touch /sys/kernel/x 2>&1; echo h > /proc/sysrq-trigger && echo WROTE; "
                                 "grep -E ' /sys | /proc/sys | /proc/sysrq-trigger ' /proc/mounts"])
    assert "Read-only file system" in proc.stdout and "WROTE" not in proc.stdout, proc.stdout + proc.stderr
    # /proc/sysrq-trigger exists only with CONFIG_MAGIC_SYSRQ; where it does, it is a read-only bind.
    want = 3 if os.path.exists("/proc/sysrq-trigger") else 2
    assert proc.stdout.count(" ro,") == want, proc.stdout
    for line in proc.stdout.splitlines():
        if " /sys " in line or " /proc/sys " in line:
            assert " ro," in line, line


def test_masked_paths_are_unreadable(runtime, bundle):
    proc = run(runtime, bundle, ["sh", "-c", "cat /proc/timer_list | wc -c; cat /proc/keys | wc -c; ls /sys/firmware | wc -l"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "0", "0"]


def test_capabilities_match_the_spec(runtime, bundle):
    proc = run(runtime, bundle, ["cat", "/proc/self/status"])
    status = _status(proc.stdout)
    want = sum(1 << CAP_NUMBERS[c] for c in DOCKER_CAPS)
    assert int(status["CapEff"], 16) == want
    assert int(status["CapBnd"], 16) == want
    assert int(status["CapPrm"], 16) == want
    assert int(status["CapInh"], 16) == 0


def test_non_root_user_has_no_effective_capabilities_without_ambient(runtime, bundle):
    proc = run(runtime, bundle, ["cat", "/proc/self/status"], user={"uid": 1000, "gid": 1000})
    status = _status(proc.stdout)
    assert int(status["CapEff"], 16) == 0  # Docker: capabilities are lost on execve as non-root
    assert int(status["CapBnd"], 16) == sum(1 << CAP_NUMBERS[c] for c in DOCKER_CAPS)


def test_seccomp_filter_and_no_new_privs(runtime, bundle):
    proc = run(runtime, bundle, ["cat", "/proc/self/status"], noNewPrivileges=True)
    status = _status(proc.stdout)
    assert status["Seccomp"].strip() == "2"
    assert status["NoNewPrivs"].strip() == "1"


def test_no_new_privs_only_when_asked(runtime, bundle):
    proc = run(runtime, bundle, ["cat", "/proc/self/status"])
    status = _status(proc.stdout)
    assert status["Seccomp"].strip() == "2"
    assert status["NoNewPrivs"].strip() == "0"


def test_mount_fails_inside(runtime, bundle):
    proc = run(runtime, bundle, ["sh", "-c", "mkdir -p /mnt; mount -t tmpfs none /mnt && echo MOUNTED; echo done"])
    assert "MOUNTED" not in proc.stdout
    assert "done" in proc.stdout, proc.stderr


def test_seccomp_blocks_new_namespaces_and_keyrings(runtime, bundle):
    proc = run(runtime, bundle, ["sh", "-c", "unshare -n true && echo UNSHARED; echo done"])
    assert "UNSHARED" not in proc.stdout and "done" in proc.stdout, proc.stdout + proc.stderr


def test_seccomp_errno_rules_apply(runtime, bundle):
    bundle.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    proc = run(runtime, bundle, ["sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"])
    assert "Permission denied" in proc.stdout and "rc=1" in proc.stdout, proc.stdout + proc.stderr


def test_readonly_root(runtime, bundle):
    bundle.config["root"]["readonly"] = True
    proc = run(runtime, bundle, ["sh", "-c", "touch /x 2>&1; touch /dev/shm/ok && echo shm-ok"])
    assert "Read-only file system" in proc.stdout and "shm-ok" in proc.stdout, proc.stdout + proc.stderr


def test_devices_exist(runtime, bundle):
    proc = run(runtime, bundle, ["sh", "-c", "for d in null zero full random urandom tty; do test -c /dev/$d && "
                                 "echo $d; done; head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo ok; "
                                 "readlink /dev/fd; readlink /dev/stdin; readlink /dev/ptmx"])
    assert proc.stdout.split() == ["null", "zero", "full", "random", "urandom", "tty", "4", "ok",
                                   "/proc/self/fd", "/proc/self/fd/0", "pts/ptmx"], proc.stdout + proc.stderr


def test_only_stdio_and_the_preserved_fds_reach_the_process(runtime, bundle):
    """Whatever else the runtime holds or inherits is closed at the exec; --preserve-fds N
    hands on 3..3+N-1."""
    stray = os.open("/dev/null", os.O_RDONLY)   # inherited by the runtime, not the container

    def at_3_and_4() -> None:
        os.dup2(stray, 3)
        os.dup2(stray, 4)

    try:
        for preserve, expected in ((0, ["0", "1", "2", "3"]), (2, ["0", "1", "2", "3", "4", "5"])):
            container_id, path = configure(runtime, bundle, ["ls", "/proc/self/fd"])
            proc = runtime("run", "--preserve-fds", str(preserve), "--bundle", path, container_id,
                           stdin=subprocess.DEVNULL, pass_fds=(3, 4, stray), preexec_fn=at_3_and_4)
            # the last one listed is ls's own directory
            assert proc.stdout.split() == expected, proc.stdout + proc.stderr
    finally:
        os.close(stray)


def test_sysctl_and_bind_mount_options(runtime, bundle, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "hello").write_text("from the host\n")
    bundle.config["mounts"].append({"destination": "/data", "type": "bind", "source": str(shared),
                                    "options": ["rbind", "ro", "rprivate"]})
    bundle.config["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["size=1m", "mode=1777"]})
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 engine-made\n")
    bundle.config["mounts"].append({"destination": "/etc/hosts", "type": "bind", "source": str(hosts),
                                    "options": ["rbind", "rprivate"]})
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    proc = run(runtime, bundle, ["sh", "-c", "cat /etc/hosts; cat /data/hello; touch /data/x 2>&1; "
                                 "grep ' /scratch ' /proc/mounts; cat /proc/sys/net/ipv4/ip_forward"])
    out = proc.stdout
    assert out.startswith("127.0.0.1 engine-made\n"), out + proc.stderr
    assert "from the host" in out and "Read-only file system" in out, out + proc.stderr
    assert "size=1024k" in out and out.split()[-1] == "1", out


def test_user_namespace_with_id_maps(runtime, bundle):
    with _user_namespace_bundle(bundle):
        _run_in_user_namespace(runtime, bundle)


def test_exec_joins_a_user_namespace(runtime, bundle, tmp_path):
    """exec into a container with its own user namespace: that one is joined first, in a child
    of the caller, then the others (krat's two-fork path; without one, exec forks once)."""
    with _user_namespace_bundle(bundle):
        container_id = create(runtime, bundle, ["sleep", "1000"], tmp_path / "out.log")
        try:
            runtime("start", container_id)
            wait_status(runtime, container_id, "running")
            proc = runtime("exec", container_id, "sh", "-c", "id -u; cat /proc/self/uid_map; echo $$; cat /proc/1/cmdline",
                           stdin=subprocess.DEVNULL)
            refused = runtime("exec", container_id, "/etc", stdin=subprocess.DEVNULL)  # a command execve refuses
        finally:
            runtime("delete", "--force", container_id)  # before its rootfs goes
        assert proc.returncode == 0, proc.stderr
        assert refused.returncode != 0 and "/etc" in refused.stderr
        if runtime.name == "krat":
            assert refused.returncode == 126 and "is a directory" in refused.stderr, refused.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == "0" and lines[1].split() == ["0", "200000", "65536"]
        assert int(lines[2]) > 1 and lines[3].startswith("sleep")


@contextlib.contextmanager
def _user_namespace_bundle(bundle):
    import shutil
    import tempfile

    # The mapped root must be able to reach the rootfs: pytest's own temp dirs are 0700.
    outer = tempfile.mkdtemp(prefix="krat-userns-")
    os.chmod(outer, 0o755)
    try:
        bundle.path = Path(outer)
        shutil.copytree(bundle.rootfs, bundle.path / "rootfs", symlinks=True)
        bundle.config["linux"]["namespaces"].append({"type": "user"})
        bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        yield
    finally:
        shutil.rmtree(outer, ignore_errors=True)


def _run_in_user_namespace(runtime, bundle):
    proc = run(runtime, bundle, ["sh", "-c", "id -u; cat /proc/self/uid_map; stat -c %U /bin/busybox"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "200000", "65536"]
    assert lines[2] == "nobody"  # host root is not mapped inside


def test_join_a_network_namespace_by_path(runtime, bundle, tmp_path):
    import subprocess
    import uuid

    name = f"kc-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        for ns in bundle.config["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = f"/var/run/netns/{name}"
        proc = run(runtime, bundle, ["sh", "-c", "cat /sys/class/net/lo/operstate; readlink /proc/self/ns/net"])
        inode = os.stat(f"/var/run/netns/{name}").st_ino
        # A fresh namespace has lo down; this one was set up outside, so it is the joined one.
        assert proc.stdout.split() == ["unknown", f"net:[{inode}]"], proc.stdout + proc.stderr
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def test_devices_and_rlimits_from_the_spec(runtime, bundle):
    bundle.config["linux"]["devices"] = [{"path": "/dev/kc-null", "type": "c", "major": 1, "minor": 3,
                                          "fileMode": 0o620, "uid": 0, "gid": 0}]
    bundle.config["linux"]["resources"]["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 3,
                                                          "access": "rwm"})
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]
    proc = run(runtime, bundle, ["sh", "-c", "stat -c '%F %a %t:%T' /dev/kc-null; echo x > /dev/kc-null && echo ok; "
                                 "ulimit -n; ulimit -Hn"])
    assert proc.stdout.splitlines() == ["character special file 620 1:3", "ok", "256", "512"], proc.stdout + proc.stderr


def test_ambient_capabilities_for_a_non_root_user(runtime, bundle):
    caps = bundle.config["process"]["capabilities"]
    caps["inheritable"] = ["CAP_NET_BIND_SERVICE"]
    caps["ambient"] = ["CAP_NET_BIND_SERVICE"]
    proc = run(runtime, bundle, ["cat", "/proc/self/status"], user={"uid": 1000, "gid": 1000})
    status = _status(proc.stdout)
    assert int(status["CapAmb"], 16) == 1 << 10, proc.stdout + proc.stderr
    assert int(status["CapEff"], 16) == 1 << 10
