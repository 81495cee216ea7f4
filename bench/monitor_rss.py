#!/usr/bin/env python3
"""Memory of krat's per-container monitor while its container idles (target: <= 12 MiB RSS).

    sudo .venv/bin/python bench/monitor_rss.py [--containers 5]

Uses a private krat root with busybox imported from scripts/busybox-rootfs.py, starts
N idle containers (`sleep`), and prints one JSON line per monitor with its RSS and PSS
(PSS shares the interpreter's pages between monitors: closer to the real cost), then a
summary line. Cleans up its containers and state.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def kib(pid: int, key: str, name: str) -> int:
    with open(f"/proc/{pid}/{name}") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kb-rss-", dir="/tmp"))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    krat = [sys.executable, "-m", "krat", "--root", str(tmp / "root"), "--runroot", str(tmp / "run")]
    run = lambda *a: subprocess.run(krat + list(a), env=env, check=True, capture_output=True, text=True)  # noqa
    try:
        subprocess.run([sys.executable, str(REPO / "scripts" / "busybox-rootfs.py"), str(tmp / "bb.tar")], check=True)
        run("import", "--change", 'CMD ["sh"]', str(tmp / "bb.tar"), "busybox:latest")
        ids = [run("run", "-d", "--network", "none", "busybox", "sleep", "600").stdout.strip()
               for _ in range(args.containers)]
        rss = []
        for cid in ids:
            pid = int(run("inspect", "-f", "{{.State.Pid}}", cid).stdout)
            monitor = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
            r, p = kib(monitor, "VmRSS", "status"), kib(monitor, "Pss", "smaps_rollup")
            rss.append(r)
            print(json.dumps({"container": cid[:12], "monitor_pid": monitor, "rss_kib": r, "pss_kib": p}))
        print(json.dumps({"monitors": len(rss), "median_rss_mib": round(statistics.median(rss) / 1024, 2),
                          "target_mib": 12, "met": statistics.median(rss) <= 12 * 1024}))
        run("rm", "-f", *ids)
    finally:
        for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            target = line.split()[4]
            if target.startswith(str(tmp)):
                subprocess.run(["umount", "-l", target], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
