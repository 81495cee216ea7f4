"""The eBPF device filter for cgroup v2, assembled from device rules."""

from __future__ import annotations

import struct

from krat.oci.linux import DeviceRule
from krat.runtime import devices_bpf


def _decode(code: bytes) -> list[tuple[int, int, int, int, int]]:
    out = []
    for i in range(0, len(code), 8):
        op, regs, off, imm = struct.unpack("<BBhi", code[i:i + 8])
        out.append((op, regs & 0xF, regs >> 4, off, imm))
    return out


def test_empty_rules_deny_everything():
    insns = _decode(devices_bpf.program(()))
    assert insns[-2:] == [(0xB7, 0, 0, 0, 0), (0x95, 0, 0, 0, 0)]


def test_last_rule_is_checked_first_and_jumps_land_on_the_next_block():
    rules = (DeviceRule(False), DeviceRule(True, "c", 1, 3, "rw"))
    insns = _decode(devices_bpf.program(rules))
    body = insns[7:]  # after loading type, access, major, minor
    # allow c 1:3 rw: type, access, major, minor checks, then r0 = 1; exit
    assert body[0] == (0x55, 3, 0, 7, devices_bpf.DEV_CHAR)
    assert body[1][:2] == (0xBC, 7) and body[2][0] == 0x54 and body[3][:2] == (0x55, 7)
    assert body[4] == (0x55, 5, 0, 3, 1) and body[5] == (0x55, 6, 0, 2, 3)
    assert body[6] == (0xB7, 0, 0, 0, 1) and body[7][0] == 0x95
    # then deny-all: access check only, r0 = 0; exit
    assert body[11] == (0xB7, 0, 0, 0, 0)
    for i, (op, _dst, _src, off, _imm) in enumerate(body):
        if op == 0x55:
            target = i + 1 + off
            assert body[target - 1][0] == 0x95  # every failed check skips exactly to after an exit
