"""Device rules on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program, assembled here.

cgroup v2 has no devices.allow/deny files; the kernel asks an eBPF program attached to
the cgroup instead. `program` (pure) turns the rules into eBPF instructions with v1's
meaning: the last rule that matches the device decides, nothing matching means deny.
`attach` loads it with bpf(2) and attaches it (BPF_F_ALLOW_MULTI, as runc does).
"""

from __future__ import annotations

import ctypes
import os
import struct

from krat.errors import InvalidArgument
from krat.oci.linux import DeviceRule

# struct bpf_cgroup_dev_ctx { u32 access_type /* access << 16 | type */; u32 major; u32 minor; }
DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
_ACCESS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}

_LDX_W = 0x61      # dst = *(u32 *)(src + off)
_MOV32_REG = 0xBC  # dst = (u32) src
_AND32_IMM = 0x54
_RSH32_IMM = 0x74
_JNE_IMM = 0x55    # if dst != imm goto +off
_MOV64_IMM = 0xB7
_EXIT = 0x95

_BPF_PROG_LOAD, _BPF_PROG_ATTACH = 5, 8
_PROG_TYPE_CGROUP_DEVICE = 15
_ATTACH_CGROUP_DEVICE = 6
_F_ALLOW_MULTI = 2
_SYS_BPF = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "ppc64le": 361, "s390x": 351, "riscv64": 280}


def _insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def _rule_block(rule: DeviceRule) -> list[tuple[int, int, int, int]]:
    """Checks as (op, dst, imm, jump-to-next?) tuples, then the verdict."""
    checks = []
    if rule.type != "a":
        checks.append((_JNE_IMM, 3, DEV_CHAR if rule.type == "c" else DEV_BLOCK))
    wanted = sum(_ACCESS[c] for c in rule.access)
    if rule.type == "a" or wanted != ACC_MKNOD | ACC_READ | ACC_WRITE:
        checks.append(("access", 7, ~wanted & 0xFFFFFFFF))
    if rule.type != "a" and rule.major is not None and rule.major >= 0:
        checks.append((_JNE_IMM, 5, rule.major))
    if rule.type != "a" and rule.minor is not None and rule.minor >= 0:
        checks.append((_JNE_IMM, 6, rule.minor))
    return checks


def program(rules: tuple[DeviceRule, ...]) -> bytes:
    """eBPF for the rules: r3 = type, r4 = access, r5 = major, r6 = minor; last match wins."""
    out = [_insn(_LDX_W, 2, 1, 0), _insn(_MOV32_REG, 3, 2), _insn(_AND32_IMM, 3, imm=0xFFFF),
           _insn(_MOV32_REG, 4, 2), _insn(_RSH32_IMM, 4, imm=16),
           _insn(_LDX_W, 5, 1, 4), _insn(_LDX_W, 6, 1, 8)]
    for rule in reversed(rules):
        block: list[tuple[str, bytes | int]] = []
        for op, reg, imm in _rule_block(rule):
            if op == "access":  # any requested access outside the rule's: not this rule
                block.append(("insn", _insn(_MOV32_REG, 7, 4)))
                block.append(("insn", _insn(_AND32_IMM, 7, imm=_signed(imm))))
                block.append(("jump", 7 << 32 | 0))
            else:
                block.append(("jump", reg << 32 | imm))
        block.append(("insn", _insn(_MOV64_IMM, 0, imm=1 if rule.allow else 0)))
        block.append(("insn", _insn(_EXIT)))
        for i, (kind, value) in enumerate(block):
            if kind == "insn":
                out.append(value)  # type: ignore[arg-type]
            else:
                reg, imm = int(value) >> 32, int(value) & 0xFFFFFFFF
                out.append(_insn(_JNE_IMM, reg, off=len(block) - i - 1, imm=_signed(imm)))
    out += [_insn(_MOV64_IMM, 0, imm=0), _insn(_EXIT)]
    return b"".join(out)


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def _bpf(libc: ctypes.CDLL, cmd: int, attr: ctypes.Array) -> int:
    nr = _SYS_BPF.get(os.uname().machine)
    if nr is None:
        raise InvalidArgument(f"linux.resources.devices: no bpf(2) number known for {os.uname().machine}")
    result = libc.syscall(nr, cmd, attr, len(attr))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf(2) command {cmd}: {os.strerror(err)}")
    return result


def attach(cgroup_dir: str, rules: tuple[DeviceRule, ...]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    code = program(rules)
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"Apache-2.0")  # not GPL-only helpers: any license loads
    attr = ctypes.create_string_buffer(144)
    struct.pack_into("<IIQQ", attr, 0, _PROG_TYPE_CGROUP_DEVICE, len(code) // 8, ctypes.addressof(insns),
                     ctypes.addressof(license_))
    struct.pack_into("<I", attr, 68, _ATTACH_CGROUP_DEVICE)
    prog = _bpf(libc, _BPF_PROG_LOAD, attr)
    try:
        target = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            attach_attr = ctypes.create_string_buffer(32)
            struct.pack_into("<IIII", attach_attr, 0, target, prog, _ATTACH_CGROUP_DEVICE, _F_ALLOW_MULTI)
            _bpf(libc, _BPF_PROG_ATTACH, attach_attr)
        finally:
            os.close(target)
    finally:
        os.close(prog)
