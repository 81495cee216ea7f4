"""Images: names -> config + layer directories, over the content store, layers and the DB.

How other areas use it:

    from krat.engine.images import ImageService
    images = ImageService(paths)                    # paths: engine.config.Paths
    img = images.resolve("busybox")                 # name[:tag], name@digest, id, short id
    img.id, img.config["Cmd"], img.layer_dirs        # layer_dirs bottom-most first -> lowerdirs
    images.create_image({"config": {...}}, [layer_tar_path_or_stream], tags=["app:1"],
                        base=img)                   # build / commit / import
    images.register(manifest_digest, ["localhost:5000/a:1"], repo_digests=[...])  # pull
    images.tag("busybox", "mybox:1"); images.untag("mybox:1")
    images.remove("mybox:1", force=False) -> list[(action, what)]   # rmi
    images.list() -> list[ImageListing]             # DB only, no blob reads (`krat images`)
    images.load(stream_or_dir) / images.save(refs, out, fmt) / images.import_rootfs(stream, ref)

A container's root filesystem (engine) and a build step's (build):

    from krat.store import snapshots
    snapshots.mount_overlay(img.layer_dirs, rootfs, upper, work)   # upper/work: per container
    snapshots.unmount(rootfs)
    from krat.store.layers import diff
    diff(upper, out_stream)                         # upper dir -> layer tar, for create_image

`rmi` refuses while a row of the containers area's `containers` table has
`image_id` = the image id (checked only if that table and column exist).

Crash safety: blobs and layer directories are written (verified, renamed into place)
before the one transaction that adds rows; a failure removes what this call added and
no row uses. Removal moves files away inside the transaction that drops their rows, so
a concurrent import either sees the rows or sees the files gone, never a half state.
"""

from __future__ import annotations

import os
import time

from krat.errors import InvalidArgument, NotFound
from krat.oci.records import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import BinaryIO, Iterable, Sequence, Union
    from krat.db import Database
    from krat.db.images import ImageListing
    from krat.engine.config import Paths
    from krat.store.content import ContentStore
    from krat.store.layers import LayerStore

    LayerSource = Union[str, Path, BinaryIO]
DEFAULT_ARCH = "amd64"


@record(frozen=True)
class Image:
    id: str                                   # sha256:<hex> of the config blob
    manifest_digest: str
    config_doc: dict                          # the whole image config document
    diff_ids: list[str]
    layer_dirs: list[str]                     # bottom-most first: overlay lowerdirs
    repo_tags: list[str] = field(default_factory=list)      # familiar: busybox:latest
    repo_digests: list[str] = field(default_factory=list)
    created: str = ""
    size: int = 0
    parent_id: str | None = None
    blob_digests: list[str] = field(default_factory=list)   # the manifest's layer blobs

    @property
    def config(self) -> dict:
        """The config's "config" object: Env, Cmd, Entrypoint, WorkingDir, User, ..."""
        return self.config_doc.get("config") or {}

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[-1][:12]

    @property
    def architecture(self) -> str:
        return self.config_doc.get("architecture", "")

    @property
    def os(self) -> str:
        return self.config_doc.get("os", "")

    @property
    def history(self) -> list[dict]:
        return list(self.config_doc.get("history") or [])


def familiar(name: str) -> str:
    """docker.io/library/busybox:latest -> busybox:latest (without a regex: `images` is hot)."""
    if name.startswith("docker.io/"):
        name = name[len("docker.io/"):]
        if name.startswith("library/") and "/" not in name[len("library/"):].split(":")[0].split("@")[0]:
            name = name[len("library/"):]
    return name


def split_name(name: str) -> tuple[str, str]:
    """busybox:latest -> (busybox, latest); a registry port is not a tag."""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, ""


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() % 1 * 1e9):09d}Z"


def parse_reference(text: str):
    # imported on use: its regular expressions (re, enum, functools...) cost `krat run` ~3 ms,
    # and a run of an image by its tag finds it without them (ImageService.resolve_id)
    from krat.oci.reference import parse_reference

    return parse_reference(text)


def tag_lookup_name(text: str) -> str | None:
    """The tags-table name of a tag reference, made without parsing (its parser's regular
    expressions and imports cost ~3 ms): `busybox:1.36` -> docker.io/library/busybox:1.36,
    `bench/app` -> docker.io/bench/app:latest, `ghcr.io/o/app:v1` as it is; None for a digest,
    or a shape Docker's normalisation rewrites further (index.docker.io, docker.io/NAME).
    Only a lookup key: a stored name is always a parsed one, so a row found under this key
    means parse_reference(text) is valid and names that very row (an invalid text makes an
    invalid key, which no row has)."""
    if not text or "@" in text:
        return None
    slash, colon = text.rfind("/"), text.rfind(":")
    name, tag = (text[:colon], text[colon + 1:]) if colon > slash else (text, "latest")
    first, sep, rest = name.partition("/")
    if not sep:
        return f"docker.io/library/{name}:{tag}"
    if first in ("docker.io", "index.docker.io"):
        return f"{name}:{tag}" if first == "docker.io" and "/" in rest else None
    if "." in first or ":" in first or first == "localhost":
        return f"{name}:{tag}"   # another registry
    return f"docker.io/{name}:{tag}"


def tag_reference(text: str):
    ref = parse_reference(text)
    if ref.digest is not None:
        raise InvalidArgument(f"refusing to create a tag with a digest reference: {text}")
    return ref


class ImageService:
    def __init__(self, paths: "Paths", db: "Database | None" = None) -> None:
        self.paths = paths
        self._db = db
        self._content: "ContentStore | None" = None
        self._layers: "LayerStore | None" = None

    @property
    def db(self) -> "Database":
        if self._db is None:
            from krat.db import open_database

            self._db = open_database(self.paths.db)
        return self._db

    @property
    def content(self) -> "ContentStore":
        if self._content is None:
            from krat.store.content import ContentStore

            self._content = ContentStore(self.paths.content)
        return self._content

    @property
    def layers(self) -> "LayerStore":
        if self._layers is None:
            from krat.store.layers import LayerStore

            self._layers = LayerStore(self.paths.layers)
        return self._layers

    # -- reading ---------------------------------------------------------------------

    def resolve_id(self, text: str) -> str:
        """The image id a user's reference names; NotFound/InvalidArgument with a clear message."""
        from krat.db import imagerows as q  # not all of krat.db.images: `run` calls this

        if not text:
            raise InvalidArgument("invalid reference format: empty image name")
        hex_ = text[7:] if text.startswith("sha256:") else text
        is_hex = 0 < len(hex_) <= 64 and all(c in "0123456789abcdef" for c in hex_)
        if text.startswith("sha256:") or (is_hex and len(hex_) == 64):
            if not is_hex:
                raise InvalidArgument(f"invalid image id {text!r}")
            ids = q.ids_with_prefix(self.db, hex_)
            if len(ids) == 1:
                return ids[0]
            raise NotFound(f"No such image: {text}")
        key = tag_lookup_name(text)
        found = q.image_by_tag(self.db, key) if key else None
        if found:
            return found
        ref = None
        try:
            ref = parse_reference(text)
        except InvalidArgument:
            if not is_hex:
                raise
        if ref is not None:
            found = (q.image_by_digest(self.db, ref.repository, str(ref.digest)) if ref.digest
                     else q.image_by_tag(self.db, str(ref)))
            if found:
                return found
        if is_hex and "/" not in text and ":" not in text:
            ids = q.ids_with_prefix(self.db, hex_)
            if len(ids) == 1:
                return ids[0]
            if len(ids) > 1:
                raise InvalidArgument(f"image id prefix {text!r} is ambiguous: use more characters")
        raise NotFound(f"No such image: {ref.familiar if ref else text}")

    def resolve(self, name_or_id: str) -> Image:
        return self.get(self.resolve_id(name_or_id))

    def get(self, image_id: str) -> Image:
        from krat.db import images as q

        row = q.get_image(self.db, image_id)
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        config_doc = self.content.read_json(row.id)
        refs = q.layers_of(self.db, image_id)
        return Image(
            id=row.id, manifest_digest=row.manifest_digest, config_doc=config_doc,
            diff_ids=[r.diff_id for r in refs],
            layer_dirs=[self.layers.diff_dir(r.diff_id) for r in refs],
            repo_tags=[familiar(t) for t in q.tags_of(self.db, image_id)],
            repo_digests=[familiar(d) for d in q.repo_digests_of(self.db, image_id)],
            created=row.created, size=row.size, parent_id=row.parent_id,
            blob_digests=[r.blob_digest for r in refs],
        )

    def get_for_run(self, image_id: str) -> Image:
        """get() for starting a container: without the image's names (repo_tags and
        repo_digests change; a start reads neither), from the row's run_doc, which the first
        start of the image stores (one query, no blob read, no content or layer store)."""
        from krat.db import imagerows as q
        from krat.oci import jsoncodec

        got = q.get_with_run_doc(self.db, image_id)
        if got is None:
            raise NotFound(f"No such image: {image_id}")
        row, text = got
        if text:
            doc = jsoncodec.loads(text)
        else:
            full = self.get(image_id)
            doc = {"config": full.config_doc, "diff_ids": full.diff_ids, "blob_digests": full.blob_digests,
                   "layer_dirs": [os.path.relpath(p, self.paths.root) for p in full.layer_dirs]}
            q.set_run_doc(self.db, image_id, jsoncodec.dumps(doc))
        root = self.paths.root
        return Image(id=row.id, manifest_digest=row.manifest_digest, config_doc=doc["config"],
                     diff_ids=doc["diff_ids"], layer_dirs=[os.path.join(root, d) for d in doc["layer_dirs"]],
                     created=row.created, size=row.size, parent_id=row.parent_id,
                     blob_digests=doc["blob_digests"])

    def exists(self, name_or_id: str) -> bool:
        try:
            self.resolve_id(name_or_id)
        except NotFound:
            return False
        return True

    def list(self) -> "list[ImageListing]":
        from krat.db import images as q

        return q.list_images(self.db)

    def counts(self) -> dict[str, int]:
        from krat.db import images as q

        return q.counts(self.db)

    def manifest_bytes(self, image: Image) -> bytes:
        return self.content.read(image.manifest_digest)

    # -- names -------------------------------------------------------------------------

    def tag(self, source: str, target: str) -> str:
        """Point the name `target` at the image `source` names (moving it, like Docker)."""
        from krat.db import images as q

        ref = tag_reference(target)
        with self.db.transaction():
            image_id = self.resolve_id(source)
            q.set_tag(self.db, str(ref), ref.repository, ref.tag or "latest", image_id)
        return image_id

    def untag(self, name: str) -> str:
        from krat.db import images as q

        ref = tag_reference(name)
        with self.db.transaction():
            image_id = q.image_by_tag(self.db, str(ref))
            if image_id is None or not q.delete_tag(self.db, str(ref)):
                raise NotFound(f"No such image: {ref.familiar}")
        return image_id

    # -- adding ---------------------------------------------------------------------------

    def create_image(self, config_doc: dict, layers: Sequence[LayerSource], tags: Iterable[str] = (),
                     history: list[dict] | None = None, *, base: Image | None = None,
                     parent_id: str | None = None) -> Image:
        """Make an image from a config and new layer tars (plain, gzip or zstd; paths or streams).

        `config_doc` is an image config document ({"config": {...}, "created", "author",
        "architecture", "os", ...}); its rootfs is filled in here. With `base`, the new
        layers go on top of base's, and its history is continued. `history` describes the
        new layers (one entry per layer, plus any "empty_layer": true entries); by default
        one entry per layer. Layers are stored uncompressed (blob digest = diff_id).
        """
        from krat.engine.imagestore import Creator

        return Creator(self).create(config_doc, layers, list(tags), history, base, parent_id)

    def register(self, manifest_digest: str, tags: Iterable[str] = (),
                 repo_digests: Iterable[str] = ()) -> Image:
        """Add an image whose manifest, config and layer blobs are already in the content store.

        Unpacks the layers not yet unpacked (verifying their diff_ids); `repo_digests` are
        "repository@sha256:..." strings to remember (RepoDigests), e.g. from a pull.
        """
        from krat.engine.imagestore import Creator

        return Creator(self).register(manifest_digest, list(tags), list(repo_digests))

    # -- removing -----------------------------------------------------------------------

    def remove(self, ref: str, force: bool = False) -> list[tuple[str, str]]:
        """`rmi`: untag and, when nothing else names or uses it, delete. Returns
        [("Untagged", "busybox:latest"), ("Deleted", "sha256:...")] like Docker prints."""
        from krat.engine.imagestore import Remover

        return Remover(self).remove(ref, force)

    def load(self, source: "BinaryIO | Path") -> list[tuple[Image, list[str]]]:
        """`load`: a docker-archive or OCI archive (stream, maybe compressed) or OCI dir (Path).
        Returns each image with the tags the archive named it by."""
        from krat.engine.archive import Loader

        return Loader(self).load(source)

    def save(self, refs: Sequence[str], out: "BinaryIO | Path", fmt: str = "docker-archive") -> None:
        """`save`: docker-archive / oci-archive to a binary stream, oci-dir to a directory Path."""
        from pathlib import Path

        from krat.engine.archive import FORMATS, Saver

        if fmt not in FORMATS:
            raise InvalidArgument(f"unknown archive format {fmt!r}: use one of {', '.join(FORMATS)}")
        if fmt == "oci-dir":
            if not isinstance(out, Path):
                raise InvalidArgument("--format oci-dir needs an output directory (-o DIR)")
            Saver(self).save_dir(list(refs), out)
        else:
            Saver(self).save_tar(list(refs), out, fmt)

    def import_rootfs(self, stream: BinaryIO, ref: str | None = None, changes: Sequence[str] = (),
                      message: str = "", source: str = "-") -> Image:
        """`import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image."""
        from krat.engine.changes import apply_changes

        tags = [str(tag_reference(ref))] if ref else []
        config = apply_changes({}, list(changes))
        doc = {"architecture": DEFAULT_ARCH, "os": "linux", "config": config}
        if message:
            doc["comment"] = message
        history = [{"created_by": "", "comment": message or f"Imported from {source}"}]
        return self.create_image(doc, [stream], tags, history)

    def prune(self, all_images: bool = False) -> tuple[list[tuple[str, str]], int]:
        """Remove dangling images (with all_images: every image no container uses)."""
        from krat.engine.imagestore import Remover

        return Remover(self).prune(all_images)
