"""Seccomp: rule planning from linux.seccomp, and krat's default profile resolved per capabilities."""

from __future__ import annotations

import pytest

from krat.engine.profiles import default_seccomp, load_profile
from krat.errors import InvalidArgument
from krat.oci.linux import Seccomp
from krat.runtime import seccomp

DOCKER_CAPS = ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
               "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"]


def _names(profile: dict) -> set[str]:
    return {n for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for n in rule["names"]}


def test_action_values():
    assert seccomp.action_value("SCMP_ACT_ERRNO", None) == 0x00050001
    assert seccomp.action_value("SCMP_ACT_ERRNO", 38) == 0x00050026
    assert seccomp.action_value("SCMP_ACT_ALLOW", None) == 0x7FFF0000
    assert seccomp.action_value("SCMP_ACT_KILL_PROCESS", None) == 0x80000000


def test_args_on_distinct_indexes_are_anded_same_index_ored():
    spec = Seccomp.from_json({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["foo"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_NE"}]},
        {"names": ["bar"], "action": "SCMP_ACT_ERRNO"},  # same as the default: dropped
    ]})
    p = seccomp.plan(spec)
    assert p.default_action == 0x00050001
    personality = [r for r in p.rules if r.syscall == "personality"]
    assert [len(r.conditions) for r in personality] == [1, 1]
    foo = [r for r in p.rules if r.syscall == "foo"]
    assert len(foo) == 1 and [(c.index, c.op) for c in foo[0].conditions] == [(0, 4), (1, 1)]
    assert not [r for r in p.rules if r.syscall == "bar"]


def test_unknown_action_is_refused():
    with pytest.raises(InvalidArgument, match=r"linux.seccomp.syscalls\[0\].action"):
        Seccomp.from_json({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["x"], "action": "NOPE"}]})


def test_default_profile_blocks_the_dangerous_and_allows_the_everyday():
    profile = default_seccomp(DOCKER_CAPS, machine="x86_64")
    allowed = _names(profile)
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    for name in ("read", "write", "execve", "openat", "futex", "clone", "socket", "chroot", "arch_prctl"):
        assert name in allowed
    for name in ("mount", "umount2", "unshare", "setns", "keyctl", "add_key", "kexec_load", "init_module",
                 "reboot", "bpf", "pivot_root", "userfaultfd", "io_uring_setup", "swapon", "ptrace" + "x"):
        assert name not in allowed
    clone3 = [r for r in profile["syscalls"] if r["names"] == ["clone3"]]
    assert clone3 == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    clone = [r for r in profile["syscalls"] if r["names"] == ["clone"]][0]
    assert clone["args"] == [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    socket = [r for r in profile["syscalls"] if r["names"] == ["socket"]][0]
    assert socket["args"] == [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]
    assert all(set(rule) <= {"names", "action", "errnoRet", "args"} for rule in profile["syscalls"])
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


def test_capabilities_unlock_their_groups():
    allowed = _names(default_seccomp(DOCKER_CAPS + ["SYS_ADMIN", "CAP_SYS_TIME", "sys_module"], machine="x86_64"))
    for name in ("mount", "unshare", "setns", "clone3", "clock_settime", "init_module"):
        assert name in allowed
    profile = default_seccomp(["CAP_SYS_ADMIN"], machine="x86_64")
    assert not [r for r in profile["syscalls"] if r.get("args") and r["names"] == ["clone"]]  # clone is free


def test_architecture_specific_entries():
    assert "arch_prctl" not in _names(default_seccomp([], machine="aarch64"))


def test_every_entry_has_a_comment():
    assert all(entry.get("comment") for entry in load_profile()["syscalls"])


def test_the_profile_compiles_and_is_cached(tmp_path):
    spec = Seccomp.from_json(default_seccomp(DOCKER_CAPS))
    first = seccomp.Filter(spec, str(tmp_path))
    assert first.bpf and len(first.bpf) % 8 == 0  # struct sock_filter is 8 bytes
    cached = list(tmp_path.glob("*.bpf"))
    assert len(cached) == 1
    cached[0].write_bytes(b"\0" * 8)  # proves the second filter comes from the cache
    assert seccomp.Filter(spec, str(tmp_path)).bpf == b"\0" * 8
    other = Seccomp.from_json({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []})
    assert seccomp.Filter(other, str(tmp_path)).bpf != b"\0" * 8
