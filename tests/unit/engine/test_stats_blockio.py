"""Block I/O byte counts from cgroup files (v1 blkio, v2 io.stat) and Docker's column format."""

from __future__ import annotations

from krat.cli.commands.stats import decimal
from krat.engine.stats import blkio_bytes, io_stat_bytes, service_bytes

V1 = """254:0 Read 4096
254:0 Write 3145728
254:0 Sync 3149824
254:0 Async 0
254:0 Discard 0
254:0 Total 3149824
8:16 Read 100
8:16 Write 0
Total 3149924
"""


def test_v1_service_bytes_sum_read_and_write_over_devices():
    assert service_bytes(V1) == (4196, 3145728)
    assert service_bytes("Total 0\n") is None  # no device lines: try the next file
    assert service_bytes("") is None


def test_v1_first_file_with_devices_wins(tmp_path):
    (tmp_path / "blkio.io_service_bytes_recursive").write_text("Total 0\n")
    (tmp_path / "blkio.throttle.io_service_bytes_recursive").write_text(V1)
    assert blkio_bytes(str(tmp_path)) == (4196, 3145728)
    assert blkio_bytes(str(tmp_path / "missing")) == (0, 0)


def test_v2_io_stat():
    text = ("254:0 rbytes=1200000 wbytes=512 rios=3 wios=1 dbytes=0 dios=0\n"
            "8:0 rbytes=0 wbytes=1000 rios=0 wios=1 dbytes=0 dios=0\n")
    assert io_stat_bytes(text) == (1200000, 1512)
    assert io_stat_bytes("") == (0, 0)


def test_column_is_docker_decimal_sizes():
    assert [decimal(n) for n in (0, 512, 1200000, 3145728, 2 * 10**9)] == ["0B", "512B", "1.2MB", "3.15MB", "2GB"]
