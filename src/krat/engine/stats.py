"""Processes and resource usage of a container, read from its cgroup (v1 or v2)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from krat.engine.containers import Container

from krat.engine.bundle import cgroup_dir, cgroup_root, cgroup_v2


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def pids(cid: str, runtime: str = "") -> list[int]:
    text = _read(os.path.join(cgroup_dir(cid, "pids", cgroup_root(runtime)), "cgroup.procs"))
    return sorted(int(p) for p in text.split()) if text else []


@dataclass(frozen=True)
class Usage:
    cpu_ns: int
    memory: int
    memory_limit: int
    pids: int
    net_rx: int = 0
    net_tx: int = 0
    block_read: int = 0
    block_write: int = 0


def usage(c: "Container") -> Usage:
    cid = c.id
    root = cgroup_root(c.spec.runtime)
    if cgroup_v2(root):
        base = cgroup_dir(cid, "", root)
        stat = dict(line.split() for line in _read(f"{base}/cpu.stat").splitlines() if line)
        cpu = _int(stat.get("usage_usec", "0")) * 1000
        mem_stat = dict(line.split() for line in _read(f"{base}/memory.stat").splitlines() if line)
        memory = _int(_read(f"{base}/memory.current")) - _int(mem_stat.get("inactive_file", "0"))
        limit = _read(f"{base}/memory.max")
        limit_n = _int(limit) if limit != "max" else 0
        npids = _int(_read(f"{base}/pids.current") or str(len(_read(f"{base}/cgroup.procs").split())))
        block = io_stat_bytes(_read(f"{base}/io.stat"))
    else:
        cpu = _int(_read(f"{cgroup_dir(cid, 'cpuacct', root)}/cpuacct.usage"))
        mem = cgroup_dir(cid, "memory", root)
        mem_stat = dict(line.split() for line in _read(f"{mem}/memory.stat").splitlines() if line)
        memory = _int(_read(f"{mem}/memory.usage_in_bytes")) - _int(mem_stat.get("total_inactive_file", "0"))
        limit_n = _int(_read(f"{mem}/memory.limit_in_bytes"))
        npids = _int(_read(f"{cgroup_dir(cid, 'pids', root)}/pids.current"))
        block = blkio_bytes(cgroup_dir(cid, "blkio", root))
    host = _host_memory()
    if not limit_n or limit_n > host:
        limit_n = host
    rx, tx = _net(c.row.pid)
    return Usage(cpu, max(memory, 0), limit_n, npids, rx, tx, *block)


# v1 keeps byte counts per I/O scheduler (CFQ, BFQ) and in the throttle layer; the first file
# with device lines wins, as in runc. On recent kernels (6.18 here) a disk's throttle layer starts only
# when some cgroup sets a throttle rule on it (then until reboot): before, those counters stay 0.
BLKIO_FILES = ("blkio.io_service_bytes_recursive", "blkio.bfq.io_service_bytes_recursive",
               "blkio.throttle.io_service_bytes_recursive")


def blkio_bytes(directory: str) -> tuple[int, int]:
    for name in BLKIO_FILES:
        counts = service_bytes(_read(f"{directory}/{name}"))
        if counts is not None:
            return counts
    return 0, 0


def service_bytes(text: str) -> tuple[int, int] | None:
    """(read, write) bytes summed over devices from a v1 io_service_bytes file; None: no device lines."""
    read = write = 0
    seen = False
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3 or ":" not in fields[0]:
            continue  # the trailing "Total N"
        seen = True
        if fields[1].lower() == "read":
            read += _int(fields[2])
        elif fields[1].lower() == "write":
            write += _int(fields[2])
    return (read, write) if seen else None


def io_stat_bytes(text: str) -> tuple[int, int]:
    """(read, write) bytes summed over devices from v2's io.stat (`MAJ:MIN rbytes=N wbytes=N ...`)."""
    read = write = 0
    for line in text.splitlines():
        for item in line.split()[1:]:
            key, _, value = item.partition("=")
            if key == "rbytes":
                read += _int(value)
            elif key == "wbytes":
                write += _int(value)
    return read, write


def _host_memory() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _net(pid: int) -> tuple[int, int]:
    rx = tx = 0
    for line in _read(f"/proc/{pid}/net/dev").splitlines()[2:]:
        name, _, rest = line.partition(":")
        if name.strip() == "lo":
            continue
        fields = rest.split()
        if len(fields) >= 9:
            rx += int(fields[0])
            tx += int(fields[8])
    return rx, tx


def cpu_percent(c: "Container", interval: float = 0.5) -> tuple[float, Usage]:
    first = usage(c)
    t0 = time.monotonic()
    time.sleep(interval)
    second = usage(c)
    elapsed = time.monotonic() - t0
    percent = (second.cpu_ns - first.cpu_ns) / (elapsed * 1e9) * 100 if elapsed > 0 else 0.0
    return max(percent, 0.0), second
