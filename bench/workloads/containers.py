"""Container workloads: `run --rm busybox true`, `exec` into a running container, 20
concurrent `run -d`. Every engine gets the same busybox image (a docker-archive made by
krat) and `--network none`, so the numbers compare the engines, not their networks
(the bridge's own cost is in bench/net_run.py). Monitor memory: bench/monitor_rss.py.
"""

from __future__ import annotations

from harness import Workload

IMAGE = "docker.io/bench/busybox:1"


def _archive(ctx):
    if "busybox-archive" not in ctx.cache:
        import importlib.util
        from pathlib import Path

        here = Path(__file__).resolve().parent / "images.py"
        spec = importlib.util.spec_from_file_location("bench_images_for_containers", here)
        images = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(images)
        svc, _ = images._maker(ctx)
        out = ctx.scratch / "busybox-bench.tar"
        with open(out, "wb") as f:
            svc.save(["docker.io/bench/busybox:1"], f)
        ctx.cache["busybox-archive"] = out
    return ctx.cache["busybox-archive"]


def load_busybox(engine, ctx) -> None:
    engine.run("load", "-i", str(_archive(ctx)))
    engine.run("run", "--rm", "--network", "none", IMAGE, "true")   # warm caches once, untimed


def start_target(engine, ctx) -> None:
    load_busybox(engine, ctx)
    engine.run("run", "-d", "--network", "none", "--name", "bench-exec", IMAGE, "sleep", "600")


def remove_all(engine, ctx) -> None:
    ids = engine.run("ps", "-aq").stdout.decode().split()
    if ids:
        engine.run("rm", "-f", *ids, check=False)


WORKLOADS = [
    Workload("run --rm busybox true", setup=load_busybox, repeat=10, target_s=0.08,
             command=lambda e, ctx: ["run", "--rm", "--network", "none", IMAGE, "true"]),
    Workload("exec into a running container", setup=start_target, repeat=10, target_s=0.08,
             command=lambda e, ctx: ["exec", "bench-exec", "true"]),
    Workload("20 concurrent run -d", setup=load_busybox, before_each=remove_all, repeat=3, parallel=20,
             command=lambda e, ctx: ["run", "-d", "--network", "none", "--name", "par{i}", IMAGE, "sleep", "60"]),
]
