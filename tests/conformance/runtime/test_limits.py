"""Cgroup limits under both runtimes: a memory hog is OOM-killed, a fork bomb stops at the pids limit."""

from __future__ import annotations

import pytest

from runtime_bundles import run
from runtime_bundles import bundle, krat_runtime, rootfs_template, runtime  # noqa: F401 - fixtures

pytestmark = pytest.mark.root

MiB = 1024 * 1024


def test_memory_limit_oom_kills_with_137(runtime, bundle):
    bundle.config["linux"]["resources"]["memory"] = {"limit": 16 * MiB, "swap": 16 * MiB}
    # The shell keeps the whole command substitution in memory: ~64 MiB against a 16 MiB limit.
    proc = run(runtime, bundle, ["sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}"])
    assert proc.returncode == 137, (proc.returncode, proc.stdout, proc.stderr)
    assert "survived" not in proc.stdout


def test_pids_limit_stops_a_fork_bomb(runtime, bundle):
    bundle.config["linux"]["resources"]["pids"] = {"limit": 10}
    # ash gives up when fork fails, so the bomb runs in a subshell; builtins read the counters after.
    script = ("(i=0; while [ $i -lt 40 ]; do sleep 100 & i=$((i+1)); done) 2>/dev/null; "
              "for f in /sys/fs/cgroup/pids/pids.current /sys/fs/cgroup/pids.current; do "
              "[ -r $f ] && read n < $f && echo current=$n; done; "
              "read m < /sys/fs/cgroup/pids/pids.max 2>/dev/null || read m < /sys/fs/cgroup/pids.max; echo max=$m")
    proc = run(runtime, bundle, ["sh", "-c", script])
    assert "max=10" in proc.stdout, proc.stdout + proc.stderr
    current = int(proc.stdout.split("current=")[1].split()[0])
    assert current <= 10


def test_cpu_settings_reach_the_cgroup(runtime, bundle):
    bundle.config["linux"]["resources"]["cpu"] = {"shares": 512, "quota": 50000, "period": 100000}
    script = ("if [ -r /sys/fs/cgroup/cpu.max ]; then cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight; "
              "else cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us "
              "/sys/fs/cgroup/cpu/cpu.shares; fi")
    proc = run(runtime, bundle, ["sh", "-c", script])
    assert proc.stdout.split() in (["50000", "100000", "512"], ["50000", "100000", "59"]), proc.stdout + proc.stderr
