"""`load` and `save`: Docker archives (what `docker save` writes), OCI archives and OCI dirs.

Load streams the archive once: each blob goes straight into the content store, verified
against its name when the name is a digest (blobs/sha256/<hex>); small JSON documents
are kept in memory. Then manifest.json (Docker) or index.json (OCI) says which images
to register, all in one transaction. A failure removes every blob and layer it added.

Save writes, for every format, an OCI layout (oci-layout, index.json, blobs/sha256/...);
a docker-archive adds Docker's manifest.json, which Docker and Podman both load.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator

from krat.errors import InvalidArgument
from krat.oci.digest import Digest
from krat.oci.image import (ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, INDEX_TYPES,
                            LAYER_BY_COMPRESSION, OCI_CONFIG, OCI_MANIFEST, Descriptor, Manifest,
                            canonical_json, index_doc, parse_config, parse_index)
from krat.oci.reference import parse_reference

if TYPE_CHECKING:
    from krat.engine.images import Image, ImageService

FORMATS = ("docker-archive", "oci-archive", "oci-dir")
SMALL_MAX = 16 << 20
_BLOB_NAME = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
_SMALL = re.compile(r"^(manifest\.json|index\.json|oci-layout|repositories|[^/]*\.json)$")


@dataclass
class _Archive:
    small: dict[str, bytes] = field(default_factory=dict)     # JSON documents by path
    blobs: dict[str, str] = field(default_factory=dict)       # path -> digest in the store
    links: dict[str, str] = field(default_factory=dict)       # path -> path (symlinks)

    def digest_of(self, path: str, what: str) -> str:
        seen = set()
        while path in self.links and path not in seen:
            seen.add(path)
            path = self.links[path]
        if path in self.blobs:
            return self.blobs[path]
        raise InvalidArgument(f"archive is incomplete: {what} {path!r} is missing")


class Loader:
    def __init__(self, svc: "ImageService") -> None:
        from krat.engine.imagestore import Creator

        self.svc = svc
        self.creator = Creator(svc)

    def load(self, source: BinaryIO | Path) -> list[tuple["Image", list[str]]]:
        """Returns each image with the names the archive gave it (familiar form)."""
        try:
            archive = _Archive()
            if isinstance(source, Path):
                entries = _dir_entries(source)
            elif _plain_file(source):
                entries = _file_entries(source)
            else:
                entries = _tar_entries(source)
            for name, kind, link, stream in entries:
                self._take(archive, name, kind, link, stream)
            items = self._images(archive)
            images = self.creator.register_many(items)
        except BaseException:
            self.creator.undo()
            raise
        self._drop_unused()
        from krat.engine.images import familiar

        return [(image, [familiar(str(parse_reference(t))) for t in tags])
                for image, (_, tags, _) in zip(images, items)]

    def _take(self, archive: _Archive, name: str, kind: str, link: str, stream: BinaryIO | None) -> None:
        if kind == "symlink":
            parent = os.path.dirname(name)
            archive.links[name] = os.path.normpath(os.path.join(parent, link)).lstrip("/")
            return
        if kind != "file" or stream is None:
            return
        match = _BLOB_NAME.match(name)
        expected = f"sha256:{match[1]}" if match else None
        if not match and _SMALL.match(name):
            data = _read_small(stream)
            if len(data) > SMALL_MAX:
                raise InvalidArgument(f"archive member {name} is too large for a JSON document")
            archive.small[name] = data
            return
        if isinstance(stream, _Range):
            ing = self.svc.content.ingest_range(stream.fd, stream.offset, stream.size, expected)
        else:
            ing = self.svc.content.ingest_stream(stream, expected)
        if ing.new:
            self.creator.new_blobs.append(str(ing.digest))
        archive.blobs[name] = str(ing.digest)

    def _small_or_blob(self, archive: _Archive, path: str, what: str) -> bytes:
        path = os.path.normpath(path).lstrip("/")
        if path in archive.small:
            return archive.small[path]
        return self.svc.content.read(archive.digest_of(path, what))

    def _images(self, archive: _Archive) -> list[tuple[str, list[str], list[str]]]:
        if "manifest.json" in archive.small:
            return self._docker_images(archive)
        if "index.json" in archive.small:
            return self._oci_images(archive)
        raise InvalidArgument("not an image archive: it has neither manifest.json (Docker) nor index.json (OCI)")

    def _docker_images(self, archive: _Archive) -> list[tuple[str, list[str], list[str]]]:
        try:
            entries = json.loads(archive.small["manifest.json"])
        except ValueError as err:
            raise InvalidArgument(f"archive manifest.json is not valid JSON: {err}") from None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise InvalidArgument("archive manifest.json must be a list of objects")
        out = []
        for i, entry in enumerate(entries):
            where = f"manifest.json entry {i}"
            if not isinstance(entry.get("Config"), str) or not isinstance(entry.get("Layers"), list):
                raise InvalidArgument(f"{where}: needs Config and Layers")
            raw = self._small_or_blob(archive, entry["Config"], "config")
            parse_config(raw, f"{where} config")
            config = self.svc.content.ingest_bytes(raw)
            if config.new:
                self.creator.new_blobs.append(str(config.digest))
            layers = [self._layer_descriptor(archive.digest_of(os.path.normpath(p).lstrip("/"), "layer"))
                      for p in entry["Layers"]]
            manifest = Manifest(Descriptor(OCI_CONFIG, config.digest, config.size), tuple(layers), OCI_MANIFEST)
            ing = self.svc.content.ingest_bytes(canonical_json(manifest.to_dict()))
            if ing.new:
                self.creator.new_blobs.append(str(ing.digest))
            tags = [t for t in entry.get("RepoTags") or [] if isinstance(t, str)]
            out.append((str(ing.digest), tags, []))
        return out

    def _layer_descriptor(self, digest: str) -> Descriptor:
        from krat.store.compression import detect

        with self.svc.content.open(digest) as f:
            kind = detect(f.read(4))
            size = os.fstat(f.fileno()).st_size
        return Descriptor(LAYER_BY_COMPRESSION[kind], Digest.parse(digest), size)

    def _oci_images(self, archive: _Archive) -> list[tuple[str, list[str], list[str]]]:
        out = []
        for desc in parse_index(archive.small["index.json"], "archive index.json"):
            manifest = self._platform_manifest(desc)
            out.append((str(manifest), _names(desc.annotations), []))
        if not out:
            raise InvalidArgument("archive index.json lists no images")
        return out

    def _platform_manifest(self, desc: Descriptor, depth: int = 0) -> Digest:
        if desc.media_type not in INDEX_TYPES:
            return desc.digest
        if depth > 4:
            raise InvalidArgument("archive index nests too deeply")
        children = parse_index(self.svc.content.read(desc.digest), f"index {desc.digest}")
        for child in children:
            platform = child.platform or {}
            if platform.get("os", "linux") == "linux" and platform.get("architecture", "amd64") == _arch():
                return self._platform_manifest(child, depth + 1)
        raise InvalidArgument(f"index {desc.digest} has no manifest for linux/{_arch()}")

    def _drop_unused(self) -> None:
        """Blobs the archive carried that no image uses (e.g. other platforms, legacy files)."""
        from krat.db import images as q

        svc = self.svc
        with svc.db.transaction():
            for blob in self.creator.new_blobs:
                if not q.blob_in_use(svc.db, blob):
                    svc.content.delete(blob)
        self.creator.new_blobs = []


def _names(annotations: dict[str, str]) -> list[str]:
    name = annotations.get(ANNOTATION_CONTAINERD_NAME) or annotations.get(ANNOTATION_REF_NAME) or ""
    if not name or ("/" not in name and ":" not in name):
        return []  # a bare tag ("latest") names no repository
    try:
        ref = parse_reference(name)
    except InvalidArgument:
        return []
    return [] if ref.digest else [str(ref)]


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


@dataclass(frozen=True)
class _Range:
    """A member's bytes inside an archive that is a regular file."""

    fd: int
    offset: int
    size: int


def _read_small(stream) -> bytes:
    if isinstance(stream, _Range):
        return os.pread(stream.fd, min(stream.size, SMALL_MAX + 1), stream.offset)
    return stream.read(SMALL_MAX + 1)


def _plain_file(stream: BinaryIO) -> bool:
    import stat

    from krat.store.compression import detect

    try:
        fd = stream.fileno()
        return stat.S_ISREG(os.fstat(fd).st_mode) and detect(os.pread(fd, 4, stream.tell())) == "none"
    except (AttributeError, OSError, ValueError):
        return False


def _file_entries(stream: BinaryIO) -> Iterator[tuple[str, str, str, "_Range | None"]]:
    """Like _tar_entries, for an uncompressed archive on disk: members are byte ranges."""
    import tarfile

    fd = stream.fileno()
    end = os.fstat(fd).st_size
    try:
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            for member in tar:
                name = _member_name(member.name)
                if member.isreg():
                    if member.offset_data + member.size > end:
                        raise InvalidArgument(f"truncated archive: member {member.name!r} is cut short")
                    if member.issparse():
                        raise InvalidArgument(f"archive member {member.name!r} is a sparse file")
                    yield name, "file", "", _Range(fd, member.offset_data, member.size)
                elif member.issym():
                    yield name, "symlink", member.linkname, None
                elif member.islnk():
                    yield name, "symlink", "/" + member.linkname.lstrip("/"), None
    except tarfile.TarError as err:
        raise InvalidArgument(f"corrupt or truncated archive: {err}") from None


def _member_name(raw: str) -> str:
    name = os.path.normpath(raw).lstrip("/")
    if name.startswith(".."):
        raise InvalidArgument(f"archive member {raw!r} is unsafe")
    return name


def _tar_entries(stream: BinaryIO) -> Iterator[tuple[str, str, str, BinaryIO | None]]:
    import tarfile

    from krat.store.compression import decompressed

    try:
        with tarfile.open(fileobj=decompressed(stream), mode="r|") as tar:
            for member in tar:
                name = _member_name(member.name)
                if member.isreg():
                    yield name, "file", "", tar.extractfile(member)
                elif member.issym():
                    yield name, "symlink", member.linkname, None
                elif member.islnk():
                    yield name, "symlink", "/" + member.linkname.lstrip("/"), None
    except tarfile.TarError as err:
        raise InvalidArgument(f"corrupt or truncated archive: {err}") from None
    except EOFError:
        raise InvalidArgument("truncated archive") from None


def _dir_entries(root: Path) -> Iterator[tuple[str, str, str, BinaryIO | None]]:
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                yield rel, "symlink", os.readlink(path), None
                continue
            with open(path, "rb") as f:
                yield rel, "file", "", f


class Saver:
    """Writes images as an OCI layout, plus Docker's manifest.json for docker-archive."""

    def __init__(self, svc: "ImageService") -> None:
        self.svc = svc

    def plan(self, refs: list[str]) -> list[tuple["Image", list[str]]]:
        """Each image once, with the names to save it under (none when named by id)."""
        from krat.engine.imagestore import tag_name_of

        chosen: dict[str, tuple["Image", list[str]]] = {}
        for text in refs:
            image = self.svc.resolve(text)
            name = tag_name_of(self.svc, text, image.id)
            entry = chosen.setdefault(image.id, (image, []))
            if name and name not in entry[1]:
                entry[1].append(name)
        return list(chosen.values())

    def documents(self, plan: list[tuple["Image", list[str]]], fmt: str) -> dict[str, bytes]:
        from krat.engine.images import familiar

        manifests, docker = [], []
        for image, names in plan:
            size = self.svc.content.size(image.manifest_digest)
            base = Descriptor(OCI_MANIFEST, Digest.parse(image.manifest_digest), size)
            for name in names or [None]:
                notes = {ANNOTATION_CONTAINERD_NAME: name, ANNOTATION_REF_NAME: name} if name else {}
                manifests.append(Descriptor(base.media_type, base.digest, base.size, notes))
            manifest = Manifest.parse(self.svc.manifest_bytes(image))
            docker.append({"Config": f"blobs/sha256/{image.id.split(':')[1]}",
                           "RepoTags": [familiar(n) for n in names] or None,
                           "Layers": [f"blobs/sha256/{d.digest.hex}" for d in manifest.layers]})
        docs = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": canonical_json(index_doc(manifests))}
        if fmt == "docker-archive":
            docs["manifest.json"] = canonical_json(docker)
        return docs

    def blobs(self, plan: list[tuple["Image", list[str]]]) -> list[str]:
        out: dict[str, None] = {}
        for image, _ in plan:
            out[image.manifest_digest] = None
            out[image.id] = None
            for blob in image.blob_digests:
                out[blob] = None
        return list(out)

    def save_tar(self, refs: list[str], out: BinaryIO, fmt: str = "docker-archive") -> None:
        from krat.store.tarstream import TarWriter

        plan = self.plan(refs)
        writer = TarWriter(out)
        for blob in self.blobs(plan):
            writer.add_file(f"blobs/sha256/{blob.split(':')[1]}", self.svc.content.path(blob))
        for name, data in self.documents(plan, fmt).items():
            writer.add_bytes(name, data)
        writer.close()

    def save_dir(self, refs: list[str], target: Path) -> None:
        import shutil

        plan = self.plan(refs)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise InvalidArgument(f"{target} exists and is not an empty directory")
        blobs = target / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)
        for blob in self.blobs(plan):
            # a copy, never a hardlink: editing the saved files must not touch the store
            shutil.copyfile(self.svc.content.path(blob), blobs / blob.split(":")[1])
        for name, data in self.documents(plan, "oci-dir").items():
            (target / name).write_bytes(data)
