"""`krat run --rm IMAGE true` on the default bridge vs `--network none`, and what the
network attach/detach itself costs.

    sudo .venv/bin/python bench/net_run.py [--runs 20]

Uses a private krat root with the busybox image imported from scripts/busybox-rootfs.py.
Prints one JSON object per line with the median and p90 in milliseconds. When `krat run`
is not available yet (the engine has not landed), only the attach/detach costs print.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))


def summary(name: str, samples: list[float]) -> dict:
    samples = sorted(samples)
    return {"name": name, "runs": len(samples), "median_ms": round(statistics.median(samples), 1),
            "p90_ms": round(samples[int(len(samples) * 0.9) - 1], 1)}


def attach_costs(tmp: Path, runs: int) -> list[dict]:
    from krat.db import open_database
    from krat.engine.config import Paths
    from krat.engine.networks import NetworkingRequest, NetworkService

    paths = Paths(tmp / "svc-root", tmp / "svc-run")
    svc = NetworkService(open_database(paths.db), paths)
    out = []
    keep = secrets.token_hex(32)
    svc.configure(keep, "keep", NetworkingRequest())
    svc.attach(keep, "keep")  # the bridge stays up, as while other containers run
    try:
        for mode in ("bridge", "none"):
            up, down = [], []
            for i in range(runs):
                cid = secrets.token_hex(32)
                t0 = time.perf_counter()
                svc.configure(cid, f"b{i}{mode}", NetworkingRequest(mode))
                svc.attach(cid, "h")
                t1 = time.perf_counter()
                svc.forget(cid)
                t2 = time.perf_counter()
                up.append((t1 - t0) * 1000)
                down.append((t2 - t1) * 1000)
            out += [summary(f"attach --network {mode}", up), summary(f"detach --network {mode}", down)]
    finally:
        svc.forget(keep)
    cold = []
    for _ in range(max(3, runs // 4)):
        cid = secrets.token_hex(32)
        t0 = time.perf_counter()
        svc.configure(cid, "cold", NetworkingRequest())
        svc.attach(cid, "h")
        svc.forget(cid)
        cold.append((time.perf_counter() - t0) * 1000)
    out.append(summary("attach+detach, first and last container (bridge and nft table made and removed)", cold))
    return out


def krat_run(tmp: Path, runs: int) -> list[dict]:
    krat = [sys.executable, "-m", "krat", "--root", str(tmp / "root"), "--runroot", str(tmp / "run")]
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    probe = subprocess.run([*krat, "run", "--help"], capture_output=True, env=env)
    if probe.returncode != 0:
        return [{"name": "krat run", "skipped": "krat run is not available in this tree"}]
    tar = tmp / "busybox.tar"
    subprocess.run([sys.executable, str(REPO / "scripts" / "busybox-rootfs.py"), str(tar)], check=True)
    subprocess.run([*krat, "import", str(tar), "bench/busybox"], check=True, capture_output=True, env=env)
    out = []
    for mode in ("bridge", "none"):
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([*krat, "run", "--rm", "--network", mode, "bench/busybox", "true"], check=True,
                           capture_output=True, env=env)
            samples.append((time.perf_counter() - t0) * 1000)
        out.append(summary(f"krat run --rm --network {mode} true", samples))
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="krat-bench-net-"))
    try:
        for result in attach_costs(tmp, args.runs) + krat_run(tmp, args.runs):
            print(json.dumps(result))
    finally:
        subprocess.run(["umount", "-R", "-l", str(tmp)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
