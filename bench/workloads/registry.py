"""Registry workloads: push and pull of a ~200 MB multi-layer image to/from a local registry.

Each engine gets its own docker-registry (Debian's) on a loopback port, restarted with
empty storage before every timed push so each push uploads everything (no blob the
registry already has, nothing to mount). The image: busybox plus four ~50 MB layers,
half compressible text and half random bytes, as real layers mix; it is loaded from a
docker-archive (untimed), so krat pushes uncompressed layers and compresses them, as
Docker and Podman do. Docker trusts 127.0.0.0/8 over plain HTTP by default; Podman is
told --tls-verify=false; krat allows plain HTTP to loopback by itself.
"""

from __future__ import annotations

import atexit
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from harness import REPO, Workload

sys.path.insert(0, str(REPO / "tests" / "integration" / "registry"))
import registryd  # noqa: E402  (the same registry helper the tests use)

NAME = "docker.io/bench/regbig:1"
LAYERS = 4
FILES_PER_LAYER = 10
FILE_MB = 5
_registries: dict[str, registryd.Registry] = {}


def _stop_all() -> None:
    for reg in _registries.values():
        reg.stop()


atexit.register(_stop_all)


def _layer(path: Path, index: int) -> Path:
    rng = random.Random(index)
    words = [rng.randbytes(4).hex() for _ in range(4000)]
    with tarfile.open(path, "w") as tar:
        for j in range(FILES_PER_LAYER):
            size = FILE_MB << 20
            if j % 2:
                data = os.urandom(size)
            else:
                data = " ".join(rng.choice(words) for _ in range(size // 8)).encode()[:size]
            info = tarfile.TarInfo(f"data{index}/file{j}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def archive(ctx) -> Path:
    """The ~200 MB image as a docker-archive, made once per bench run."""
    if "regbig" not in ctx.cache:
        from krat.engine.config import Paths
        from krat.engine.images import ImageService

        root = ctx.scratch / "regmaker"
        svc = ImageService(Paths(root / "root", root / "run"))
        busybox = ctx.scratch / "reg-busybox.tar"
        subprocess.run([sys.executable, str(REPO / "scripts" / "busybox-rootfs.py"), str(busybox)], check=True)
        layers = [busybox, *(_layer(ctx.scratch / f"reg-layer-{i}.tar", i) for i in range(LAYERS))]
        svc.create_image({"config": {"Cmd": ["sh"]}}, layers, [NAME])
        for layer in layers:
            layer.unlink()
        out = ctx.scratch / "regbig.tar"
        with open(out, "wb") as f:
            svc.save([NAME], f)
        shutil.rmtree(root, ignore_errors=True)
        ctx.cache["regbig"] = out
    return ctx.cache["regbig"]


def _registry(engine, ctx, fresh: bool) -> registryd.Registry:
    """This engine's registry; `fresh` restarts it on the same port with empty storage."""
    key = f"{engine.name}-{id(engine)}"
    reg = _registries.get(key)
    if reg is not None and not fresh:
        return reg
    port = reg.port if reg else registryd.free_port()
    if reg is not None:
        reg.stop()
        shutil.rmtree(reg.workdir, ignore_errors=True)
    reg = registryd.start_registry(ctx.scratch / f"registry-{key}", port=port)
    _registries[key] = reg
    return reg


def _remote(engine, ctx) -> str:
    return f"{_registry(engine, ctx, False).host}/bench/regbig:1"


def _tls(engine) -> list[str]:
    return ["--tls-verify=false"] if engine.name == "podman" else []


def _setup_push(engine, ctx) -> None:
    engine.run("load", "-i", str(archive(ctx)))
    engine.run("tag", NAME, _remote(engine, ctx))


def _empty_registry(engine, ctx) -> None:
    _registry(engine, ctx, True)


def _setup_pull(engine, ctx) -> None:
    _setup_push(engine, ctx)
    engine.run("push", *_tls(engine), _remote(engine, ctx))
    engine.run("rmi", "-f", NAME, check=False)


def _remove_pulled(engine, ctx) -> None:
    engine.run("rmi", "-f", _remote(engine, ctx), check=False)
    if engine.name == "docker":
        engine.run("builder", "prune", "-af", check=False)


WORKLOADS = [
    Workload("push ~200 MB image to a local registry", setup=_setup_push, before_each=_empty_registry, repeat=3,
             command=lambda engine, ctx: ["push", *_tls(engine), _remote(engine, ctx)]),
    Workload("pull ~200 MB image from a local registry", setup=_setup_pull, before_each=_remove_pulled, repeat=3,
             command=lambda engine, ctx: ["pull", *_tls(engine), _remote(engine, ctx)]),
]
