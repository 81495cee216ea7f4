"""Capability masks from the spec."""

from __future__ import annotations

import pytest

from krat.errors import InvalidArgument
from krat.oci.process import Capabilities
from krat.runtime import capabilities as caps
from krat.runtime import syscalls as sc
from krat.runtime.syscalls import RecordingSyscalls


def test_mask_accepts_names_with_or_without_prefix():
    assert caps.mask(("CAP_KILL", "chown", "Sys_Admin")) == (1 << 5) | (1 << 0) | (1 << 21)


def test_unknown_capability_names_the_field():
    with pytest.raises(InvalidArgument, match="process.capabilities.bounding: unknown capability 'CAP_NOPE'"):
        caps.masks(Capabilities(bounding=("CAP_NOPE",)), -1)


def test_masks_are_limited_to_what_the_runtime_holds():
    m = caps.masks(Capabilities(bounding=("CAP_KILL", "CAP_SYS_RESOURCE"), effective=("CAP_SYS_RESOURCE",)),
                   available=(1 << 41) - 1 - (1 << 24))
    assert m.bounding == 1 << 5 and m.effective == 0


def test_ambient_needs_inheritable():
    rec = RecordingSyscalls()
    m = caps.CapMasks(bounding=0b11, effective=0b11, permitted=0b11, inheritable=0b01, ambient=0b11)
    caps.apply_sets(rec, m)
    assert rec.calls == [("capset", 0b11, 0b11, 0b01), ("prctl", sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL),
                         ("prctl", sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, 0)]


def test_held_reads_the_bounding_set_of_a_process():
    with open("/proc/1/status") as f:
        want = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    assert caps.held("1") == want
    assert 0 < caps.last_cap() < 64
