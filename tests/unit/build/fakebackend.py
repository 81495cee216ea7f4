"""A Backend made of plain directories, for builder tests that need no root and no store.

Layers are copies of upper directories; diff_ids hash their file listing and bytes.
RUN does not start a container: it calls `on_run(argv, env, upper)` (default: does
nothing and exits 0), so a test can script what a command "writes" or how it fails.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from krat.build.backend import BaseImage, Layer, RunSpec
from krat.errors import NotFound


class FakeBackend:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "layers").mkdir(parents=True, exist_ok=True)
        (self.root / "work").mkdir(exist_ok=True)
        self.images: dict[str, BaseImage] = {}
        self.created: dict[str, tuple[dict, list[Layer], list[str]]] = {}
        self.runs: list[RunSpec] = []
        self.on_run = lambda spec, upper, output: 0
        self._n = 0

    def add_image(self, name: str, files: dict[str, str], config: dict | None = None) -> BaseImage:
        upper = self.workdir("base")
        for path, text in files.items():
            target = upper / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        layer = self.commit(upper)
        self.release(upper)
        image = BaseImage("sha256:" + hashlib.sha256(name.encode()).hexdigest(),
                          {"config": config or {}, "os": "linux", "architecture": "amd64"}, [layer])
        self.images[name] = image
        return image

    def image(self, ref: str, pull: bool) -> BaseImage:
        if ref in self.images:
            return self.images[ref]
        for image in self.images.values():
            if image.id == ref:
                return image
        raise NotFound(f"No such image: {ref}")

    def layer(self, diff_id: str) -> Layer | None:
        path = self.root / "layers" / diff_id.split(":")[1]
        return Layer(diff_id, path) if path.is_dir() else None

    def workdir(self, name: str) -> Path:
        self._n += 1
        path = self.root / "work" / f"{name}-{self._n}"
        path.mkdir()
        return path

    def release(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def commit(self, upper: Path) -> Layer | None:
        entries = sorted(p.relative_to(upper).as_posix() for p in upper.rglob("*"))
        if not entries:
            return None
        h = hashlib.sha256()
        for rel in entries:
            p = upper / rel
            st = os.lstat(p)
            h.update(f"{rel}:{st.st_mode:o}:{st.st_uid}:{st.st_gid}\0".encode())
            if p.is_symlink():
                h.update(os.readlink(p).encode())
            elif p.is_file():
                h.update(p.read_bytes())
        diff_id = "sha256:" + h.hexdigest()
        target = self.root / "layers" / h.hexdigest()
        if not target.exists():
            shutil.copytree(upper, target, symlinks=True)
        return Layer(diff_id, target, 0)

    def run(self, lowers: list[Path], upper: Path, spec: RunSpec, output) -> int:
        self.runs.append(spec)
        return self.on_run(spec, upper, output)

    def cache_dir(self, mount_id: str) -> Path:
        path = self.root / "cache-mounts" / hashlib.sha256(mount_id.encode()).hexdigest()[:16]
        path.mkdir(parents=True, exist_ok=True)
        return path

    def create_image(self, config_doc: dict, layers: list[Layer], tags: list[str]) -> str:
        import json

        image_id = "sha256:" + hashlib.sha256(json.dumps(config_doc, sort_keys=True).encode()).hexdigest()
        self.created[image_id] = (config_doc, layers, tags)
        return image_id
