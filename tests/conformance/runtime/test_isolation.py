"""Isolation and Docker's security defaults, seen from inside the container, under both runtimes."""

from __future__ import annotations

import os

import pytest

from runtime_bundles import DOCKER_CAPS, run

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


def test_sysctl_and_bind_mount_options(runtime, bundle, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "hello").write_text("from the host\n")
    bundle.config["mounts"].append({"destination": "/data", "type": "bind", "source": str(shared),
                                    "options": ["rbind", "ro", "rprivate"]})
    bundle.config["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["size=1m", "mode=1777"]})
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    proc = run(runtime, bundle, ["sh", "-c", "cat /data/hello; touch /data/x 2>&1; "
                                 "grep ' /scratch ' /proc/mounts; cat /proc/sys/net/ipv4/ip_forward"])
    out = proc.stdout
    assert "from the host" in out and "Read-only file system" in out, out + proc.stderr
    assert "size=1024k" in out and out.split()[-1] == "1", out
