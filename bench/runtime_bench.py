"""The low-level runtime alone: create + start + wait + delete of `true`, krat vs runc.

    sudo .venv/bin/python bench/runtime_bench.py [--runs 20]

One busybox bundle with Docker's defaults (14 capabilities, masked and read-only paths,
krat's default seccomp profile, the usual mounts and namespaces). Timed, each as the
median wall clock of `--runs` containers:

    krat-api   krat.runtime.create/start/wait/delete in this process (what the monitor does)
    krat-cli   `krat-runtime run` as a process (interpreter start included)
    runc-cli   `runc run` as a process
    python-start   `python -c pass`: the interpreter's own start, for scale

Prints one JSON object per line. Numbers on a loaded machine are noisy: compare the
ratios of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests" / "conformance" / "runtime"))


def make_bundle(tmp: Path) -> Path:
    from runtime_bundles import base_config

    bundle = tmp / "bundle"
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True)
    tar = tmp / "rootfs.tar"
    subprocess.run([sys.executable, str(REPO / "scripts" / "busybox-rootfs.py"), str(tar)], check=True)
    subprocess.run(["tar", "-xf", str(tar), "-C", str(rootfs)], check=True)
    config = base_config("rootfs", "", ["true"])
    del config["linux"]["cgroupsPath"]  # /krat/<id>, or runc's default: one per container
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def time_api(bundle: Path, root: Path, runs: int) -> list[float]:
    import krat.runtime as rt

    times = []
    for _ in range(runs):
        cid = f"kb-{uuid.uuid4().hex[:10]}"
        start = time.perf_counter()
        pid = rt.create(cid, str(bundle), str(root), stdio=None)
        rt.start(cid, str(root))
        rt.wait(pid)
        rt.delete(cid, state_root=str(root))
        times.append(time.perf_counter() - start)
    return times


def time_cli(argv: list[str], bundle: Path, runs: int) -> list[float]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    times = []
    for _ in range(runs):
        cid = f"kb-{uuid.uuid4().hex[:10]}"
        start = time.perf_counter()
        subprocess.run([*argv, "run", "--bundle", str(bundle), cid], env=env, check=True,
                       stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def time_python(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="krat-runtime-bench-") as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        bundle = make_bundle(tmp)
        results = {
            "krat-api": time_api(bundle, tmp / "api-state", args.runs),
            "krat-cli": time_cli([sys.executable, "-m", "krat.runtime.cli", "--root", str(tmp / "cli-state")],
                                 bundle, args.runs),
        }
        if subprocess.run(["which", "runc"], capture_output=True).returncode == 0:
            results["runc-cli"] = time_cli(["runc", "--root", str(tmp / "runc-state")], bundle, args.runs)
        results["python-start"] = time_python(args.runs)  # the floor under krat-cli
        runc = statistics.median(results["runc-cli"]) if "runc-cli" in results else None
        for name, times in results.items():
            median = statistics.median(times)
            line = {"workload": "create+start+wait+delete true", "runtime": name, "median_s": round(median, 4),
                    "runs": len(times)}
            if runc:
                line["vs_runc"] = round(median / runc, 2)
            print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
