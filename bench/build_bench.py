"""`krat build` vs `docker build` and `podman build`: cold, fully cached, one touched file.

    sudo .venv/bin/python bench/build_bench.py [--runs 3] [--mb 50] [--no-peers]

The workload: a ~6-step Dockerfile (WORKDIR, COPY of a ~50 MB data tree, RUN over it,
COPY requirements, RUN an "install", COPY app.py, CMD) on the busybox image from
scripts/busybox-rootfs.py. Scenarios, each timed end to end (wall clock of the CLI):

    cold     an empty store with only the base image (a fresh root per run)
    cached   the same build again: every step from the cache
    touched  app.py changed (used by the last COPY): only that step and later re-run

Docker and Podman run as private peers (tests/peers.py: own data roots and sockets) with
the same image and context; Docker uses whichever builder its CLI has (classic without
buildx). Prints one JSON object per line: median seconds and, for krat, the ratio to Docker.
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

DOCKERFILE = """FROM busybox
WORKDIR /app
COPY data/ /app/data/
RUN find /app/data -type f | wc -l > /app/count && du -s /app/data > /app/size
COPY requirements.txt .
RUN mkdir -p /opt/site && for r in $(cat requirements.txt); do echo "$r" > /opt/site/$r; done
COPY app.py .
CMD ["sh", "-c", "cat /app/count /app/app.py"]
"""


def make_context(root: Path, megabytes: int) -> Path:
    ctx = root / "ctx"
    data = ctx / "data"
    data.mkdir(parents=True)
    for i in range(megabytes):
        sub = data / f"d{i % 10}"
        sub.mkdir(exist_ok=True)
        (sub / f"blob{i}.bin").write_bytes(os.urandom(1 << 20))
    (ctx / "requirements.txt").write_text("flask\nrequests\nclick\n")
    (ctx / "app.py").write_text("print('v0')\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    return ctx


def timed(argv: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])}... failed: {proc.stderr.decode()[-800:]}")
    return elapsed


class Engine:
    name = ""

    def fresh(self) -> None: ...
    def build(self, ctx: Path) -> float: ...
    def close(self) -> None: ...


class Krat(Engine):
    name = "krat"

    def __init__(self, tmp: Path, rootfs: Path) -> None:
        self.tmp, self.rootfs, self.n = tmp, rootfs, 0
        # As installed: bytecode cached (a session may set PYTHONDONTWRITEBYTECODE).
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env["PYTHONPATH"] = str(REPO / "src")

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "krat", "--root", str(self.root), "--runroot", str(self.runroot), *args]

    def fresh(self) -> None:
        self.n += 1
        self.root, self.runroot = self.tmp / f"krat-root{self.n}", self.tmp / f"krat-run{self.n}"
        subprocess.run(self.argv("import", "--change", 'CMD ["sh"]', str(self.rootfs), "busybox:latest"),
                       check=True, capture_output=True, env=self.env)

    def build(self, ctx: Path) -> float:
        return timed(self.argv("build", "-q", "-t", "bench:1", str(ctx)), self.env)


class Peer(Engine):
    def __init__(self, peer, name: str, rootfs: Path) -> None:
        self.peer, self.name, self.rootfs = peer, name, rootfs

    def fresh(self) -> None:
        self.peer("rmi", "-f", "bench:1")
        prune = ["builder", "prune", "-a", "-f"] if self.name == "docker" else ["system", "prune", "-a", "-f"]
        self.peer(*prune)
        self.peer.ok("import", "--change", 'CMD ["sh"]', str(self.rootfs), "busybox:latest")

    def build(self, ctx: Path) -> float:
        t0 = time.perf_counter()
        self.peer.ok("build", "-q", "-t", "bench:1", str(ctx))
        return time.perf_counter() - t0


def scenario(engine: Engine, ctx: Path, runs: int) -> dict[str, float]:
    cold, cached, touched = [], [], []
    for i in range(runs):
        engine.fresh()
        (ctx / "app.py").write_text("print('v0')\n")
        cold.append(engine.build(ctx))
        cached.append(engine.build(ctx))
        (ctx / "app.py").write_text(f"print('v{i + 1}')\n")
        touched.append(engine.build(ctx))
    return {"cold": statistics.median(cold), "cached": statistics.median(cached),
            "touched": statistics.median(touched)}


def peers(rootfs: Path, enabled: bool):
    if not enabled:
        return []
    try:
        from peers import Dockerd, Podman
    except ImportError:
        print(json.dumps({"note": "tests/peers.py is not in this tree: docker and podman skipped"}))
        return []
    out = []
    for cls, name in ((Dockerd, "docker"), (Podman, "podman")):
        try:
            peer = cls().__enter__()
            out.append((Peer(peer, name, rootfs), peer))
        except Exception as err:  # a peer that cannot start is reported, not fatal for the bench
            print(json.dumps({"engine": name, "skipped": str(err)[-300:]}))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="krat-build-bench-"))
    try:
        rootfs = tmp / "busybox.tar"
        subprocess.run([sys.executable, str(REPO / "scripts" / "busybox-rootfs.py"), str(rootfs)], check=True)
        ctx = make_context(tmp, args.mb)
        results = {"krat": scenario(Krat(tmp, rootfs), ctx, args.runs)}
        for engine, peer in peers(rootfs, not args.no_peers):
            try:
                results[engine.name] = scenario(engine, ctx, args.runs)
            finally:
                peer.__exit__(None, None, None)
        for name, times in results.items():
            row = {"engine": name, "context_mb": args.mb, "runs": args.runs,
                   **{f"{k}_s": round(v, 3) for k, v in times.items()}}
            if name == "krat" and "docker" in results:
                row.update({f"{k}_vs_docker": round(v / results["docker"][k], 2) for k, v in times.items()})
            print(json.dumps(row))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
