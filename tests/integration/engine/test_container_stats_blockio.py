"""`krat stats --no-stream` BLOCK I/O: bytes a container reads and writes with O_DIRECT, from its
blkio (v1) or io (v2) cgroup, in Docker's format ("3.15MB / 0B").

On recent kernels (6.18 here) a disk's v1 throttle layer, which keeps the byte counters when no CFQ/BFQ
scheduler does, starts only once some cgroup sets a throttle rule on that disk; until then the
counters stay 0 (in Docker as in krat: both read these files). So the test gives the
container's own cgroup a rule no write reaches (1 TiB/s); the rule goes away with the container,
the disk's throttle layer stays started until reboot (harmless: no other cgroup has a rule).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from engine_helpers import assert_nothing_left
from support import skip_or_fail

pytestmark = pytest.mark.root

SIZE = re.compile(r"^(\d+(?:\.\d+)?)(B|kB|MB|GB)$")
UNITS = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9}
HUGE = 1 << 40


def disk_of(path: Path) -> str:
    """MAJ:MIN of the whole disk under `path` (throttle rules are set per disk, not partition)."""
    dev = os.stat(path).st_dev
    if os.major(dev) == 0:
        skip_or_fail(f"{path} is on a filesystem without a block device: no block I/O to count")
    sysfs = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}").resolve()
    if (sysfs / "partition").exists():
        sysfs = sysfs.parent
    return (sysfs / "dev").read_text().strip()


def allow_all_io(cid: str, disk: str) -> None:
    v1 = Path(f"/sys/fs/cgroup/blkio/krat/{cid}")
    if v1.is_dir():
        (v1 / "blkio.throttle.write_bps_device").write_text(f"{disk} {HUGE}")
        return
    v2 = Path(f"/sys/fs/cgroup/krat/{cid}")
    (v2 / "io.max").write_text(f"{disk} wbps={HUGE}")


def block_io(kr, name: str) -> tuple[int, int]:
    text = kr.ok("stats", "--no-stream", "--format", "{{.BlockIO}}", name).stdout.strip()
    read, sep, write = text.partition(" / ")
    assert sep, text
    values = []
    for part in (read, write):
        m = SIZE.match(part)
        assert m, f"not a Docker size: {part!r} in {text!r}"
        values.append(float(m.group(1)) * UNITS[m.group(2)])
    return int(values[0]), int(values[1])


def test_stats_block_io_counts_direct_reads_and_writes(kr, runtime):
    disk = disk_of(kr.root)
    cid = kr.ok("run", "-d", "--name", "disk", "busybox", "sleep", "300").stdout.strip()
    allow_all_io(cid, disk)
    before = block_io(kr, "disk")
    kr.ok("exec", "disk", "dd", "if=/dev/zero", "of=/data", "bs=1M", "count=4", "oflag=direct")
    _, written = block_io(kr, "disk")
    assert written - before[1] >= 4 * 10**6, (before, written)
    kr.ok("exec", "disk", "dd", "if=/data", "of=/dev/null", "bs=1M", "iflag=direct")
    read, _ = block_io(kr, "disk")
    assert read - before[0] >= 4 * 10**6, (before, read)
    table = kr.ok("stats", "--no-stream", "disk").stdout.splitlines()
    assert "BLOCK I/O" in table[0]
    assert re.search(r"\s\d+(\.\d+)?[kMG]?B / \d+(\.\d+)?[kMG]?B\s", table[1]), table[1]
    kr.ok("rm", "-f", "disk")
    assert_nothing_left(kr, [cid])


def test_stats_block_io_of_a_stopped_container_is_zero(kr):
    kr.ok("create", "--name", "idle", "busybox", "true")
    assert kr.ok("stats", "--no-stream", "--format", "{{.BlockIO}}", "idle").stdout == "0B / 0B\n"
    kr.ok("rm", "idle")
    assert_nothing_left(kr)
