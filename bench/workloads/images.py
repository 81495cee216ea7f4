"""Image store workloads: load and save of a ~200 MB image, `images` with 500 images."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from harness import REPO, Workload

BIG = "docker.io/bench/big:1"
LAYER_MB = 50
LAYERS = 4
MANY = 500


def _maker(ctx):
    """A krat store of the harness's own, where the shared archives are made."""
    from krat.engine.config import Paths
    from krat.engine.images import ImageService

    if "maker" not in ctx.cache:
        root = ctx.scratch / "maker"
        svc = ImageService(Paths(root / "root", root / "run"))
        busybox = ctx.scratch / "busybox.tar"
        subprocess.run([sys.executable, str(REPO / "scripts" / "busybox-rootfs.py"), str(busybox)], check=True)
        base = svc.create_image({"config": {"Cmd": ["sh"]}}, [busybox], ["docker.io/bench/busybox:1"])
        ctx.cache["maker"] = (svc, base)
    return ctx.cache["maker"]


def _random_layer(path: Path, index: int) -> Path:
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo(f"data/blob-{index}.bin")
        info.size = LAYER_MB << 20
        info.mode = 0o644
        tar.addfile(info, _RandomReader(info.size))
    return path


class _RandomReader(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def big_archive(ctx) -> Path:
    """busybox plus four 50 MB layers of random data, as a docker-archive (~200 MB)."""
    if "big" not in ctx.cache:
        svc, base = _maker(ctx)
        layers = [_random_layer(ctx.scratch / f"random-{i}.tar", i) for i in range(LAYERS)]
        svc.create_image({}, layers, [BIG], base=base)
        for layer in layers:
            layer.unlink()
        out = ctx.scratch / "big.tar"
        with open(out, "wb") as f:
            svc.save([BIG], f)
        ctx.cache["big"] = out
    return ctx.cache["big"]


def many_archive(ctx) -> Path:
    """500 small images (one shared layer, distinct configs) in one docker-archive."""
    if "many" not in ctx.cache:
        svc, base = _maker(ctx)
        names = []
        for i in range(MANY):
            name = f"docker.io/bench/many:{i}"
            svc.create_image({"config": {"Cmd": ["sh"], "Labels": {"n": str(i)}}}, [], [name], base=base)
            names.append(name)
        out = ctx.scratch / "many.tar"
        with open(out, "wb") as f:
            svc.save(names, f)
        ctx.cache["many"] = out
    return ctx.cache["many"]


def _remove_big(engine, ctx) -> None:
    engine.run("rmi", "-f", BIG, check=False)


def _load_big_once(engine, ctx) -> None:
    engine.run("load", "-i", str(big_archive(ctx)))


def _remove_saved(engine, ctx) -> None:
    (ctx.scratch / f"saved-{engine.name}.tar").unlink(missing_ok=True)


def _load_many(engine, ctx) -> None:
    engine.run("load", "-i", str(many_archive(ctx)))


def _prepare_big(engine, ctx) -> None:
    big_archive(ctx)


WORKLOADS = [
    Workload("load ~200 MB image", setup=_prepare_big, before_each=_remove_big, repeat=3,
             command=lambda engine, ctx: ["load", "-i", str(big_archive(ctx))]),
    Workload("save ~200 MB image", setup=_load_big_once, before_each=_remove_saved, repeat=3,
             command=lambda engine, ctx: ["save", "-o", str(ctx.scratch / f"saved-{engine.name}.tar"), BIG]),
    Workload(f"images ({MANY} images)", setup=_load_many, repeat=10, target_s=0.150,
             command=lambda engine, ctx: ["images"]),
]
