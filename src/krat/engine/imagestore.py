"""The multi-step changes behind ImageService: adding images (create, register) and
removing them (rmi, prune), each ending in one transaction. See engine/images.py."""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from krat.db import images as q
from krat.errors import Conflict, InvalidArgument
from krat.oci.digest import Digest
from krat.oci.image import (OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Descriptor, Manifest,
                            canonical_json, parse_config)
from krat.oci.reference import parse_reference
from krat.engine.images import DEFAULT_ARCH, Image, familiar, now_rfc3339, tag_reference

if TYPE_CHECKING:
    from krat.engine.images import ImageService, LayerSource

LayerRow = tuple[str, str, int]  # diff_id, blob digest, uncompressed size


@dataclass
class Pending:
    """An image whose files are in place, waiting for its rows."""

    manifest_digest: str
    config_digest: str
    doc: dict
    rows: list[LayerRow]
    refs: list
    pinned: list[tuple[str, str]]
    parent_id: str | None


class Creator:
    """Adds one image; on any failure removes the blobs and layer dirs it added."""

    def __init__(self, svc: "ImageService") -> None:
        self.svc = svc
        self.new_blobs: list[str] = []
        self.new_layers: list[str] = []

    def create(self, config_doc: dict, layers: Sequence["LayerSource"], tags: list[str],
               history: list[dict] | None, base: Image | None, parent_id: str | None) -> Image:
        refs = [tag_reference(t) for t in tags]
        try:
            rows = [self._add_layer(src) for src in layers]
            base_rows, base_descs = self._base_layers(base)
            doc = self._config(config_doc, base, [r[0] for r in base_rows + rows], history, len(rows))
            config = self._ingest(canonical_json(doc))
            descs = base_descs + [Descriptor(OCI_LAYER, Digest.parse(r[1]), r[2]) for r in rows]
            manifest = Manifest(Descriptor(OCI_CONFIG, config.digest, config.size), tuple(descs), OCI_MANIFEST)
            mdigest = self._ingest(canonical_json(manifest.to_dict())).digest
            pending = Pending(str(mdigest), str(config.digest), doc, base_rows + rows, refs, [],
                              parent_id or (base.id if base else None))
            return self._commit([pending])[0]
        except BaseException:
            self.undo()
            raise

    def register(self, manifest_digest: str, tags: list[str], repo_digests: list[str]) -> Image:
        return self.register_many([(manifest_digest, tags, repo_digests)])[0]

    def register_many(self, items: list[tuple[str, list[str], list[str]]]) -> list[Image]:
        """Register several images (manifest digest, tags, repo digests) all or nothing."""
        try:
            return self._commit([self._prepare(*item) for item in items])
        except BaseException:
            self.undo()
            raise

    def _prepare(self, manifest_digest: str, tags: list[str], repo_digests: list[str]) -> Pending:
        refs = [tag_reference(t) for t in tags]
        pinned = [_repo_digest(d) for d in repo_digests]
        content = self.svc.content
        manifest = Manifest.parse(content.read(manifest_digest), f"manifest {manifest_digest}")
        doc = parse_config(content.read(manifest.config.digest), f"image config {manifest.config.digest}")
        diff_ids = doc["rootfs"]["diff_ids"]
        if len(diff_ids) != len(manifest.layers):
            raise InvalidArgument(f"manifest {manifest_digest} has {len(manifest.layers)} layers "
                                  f"but its config lists {len(diff_ids)} diff_ids")
        rows = [self._unpack_blob(desc, diff_id) for desc, diff_id in zip(manifest.layers, diff_ids)]
        return Pending(manifest_digest, str(manifest.config.digest), doc, rows, refs, pinned, None)

    # -- steps -------------------------------------------------------------------------

    def _ingest(self, data: bytes):
        ing = self.svc.content.ingest_bytes(data)
        if ing.new:
            self.new_blobs.append(str(ing.digest))
        return ing

    def _add_layer(self, src: "LayerSource") -> LayerRow:
        from krat.store.compression import decompressed

        content = self.svc.content
        if isinstance(src, (str, Path)):
            try:
                stream = open(src, "rb")
            except OSError as err:
                raise InvalidArgument(f"cannot read layer {src}: {err.strerror}") from None
        else:
            stream = src
        try:
            with content.writer() as w:
                w.copy_from(decompressed(stream))
                ing = w.commit()
        finally:
            if stream is not src:
                stream.close()
        if ing.new:
            self.new_blobs.append(str(ing.digest))
        # stored uncompressed, so the blob's (verified) digest is the diff_id
        unpacked = self.svc.layers.unpack_file(content.path(ing.digest), expected=ing.digest,
                                               verified_digest=True)
        if unpacked.new:
            self.new_layers.append(str(unpacked.diff_id))
        return str(ing.digest), str(ing.digest), ing.size

    def _unpack_blob(self, desc: Descriptor, diff_id: str) -> LayerRow:
        layers = self.svc.layers
        if layers.has(diff_id):
            self._verify_blob(desc, diff_id)
            size = q.layer_size(self.svc.db, diff_id)
            return diff_id, str(desc.digest), layers.size(diff_id) if size is None else size
        with self.svc.content.open(desc.digest) as f:
            unpacked = layers.unpack(f, expected=diff_id, verified_digest=str(desc.digest) == diff_id)
        if unpacked.new:
            self.new_layers.append(diff_id)
        return diff_id, str(desc.digest), unpacked.size

    def _verify_blob(self, desc: Descriptor, diff_id: str) -> None:
        """The layer is unpacked already; still prove this blob holds that diff_id, or an
        archive could pair a known diff_id with other bytes (which `save` would then ship)."""
        from krat.store.compression import HashingReader, decompressed

        if str(desc.digest) == diff_id or q.blob_has_diff_id(self.svc.db, str(desc.digest), diff_id):
            return
        with self.svc.content.open(desc.digest) as f:
            reader = HashingReader(decompressed(f))
            reader.drain()
        if str(reader.digest) != diff_id:
            raise InvalidArgument(f"layer diff_id mismatch: expected {diff_id}, blob {desc.digest} has {reader.digest}")

    def _base_layers(self, base: Image | None) -> tuple[list[LayerRow], list[Descriptor]]:
        if base is None:
            return [], []
        manifest = Manifest.parse(self.svc.manifest_bytes(base), f"manifest of {base.short_id}")
        rows = [(d, b, q.layer_size(self.svc.db, d) or 0) for d, b in zip(base.diff_ids, base.blob_digests)]
        return rows, list(manifest.layers)

    def _config(self, config_doc: dict, base: Image | None, diff_ids: list[str],
                history: list[dict] | None, new_layers: int) -> dict:
        doc = copy.deepcopy(config_doc)
        created = doc.get("created") or now_rfc3339()
        doc["created"] = created
        doc.setdefault("architecture", base.architecture if base else DEFAULT_ARCH)
        doc.setdefault("os", base.os if base else "linux")
        if "config" not in doc:
            doc["config"] = copy.deepcopy(base.config) if base else {}
        if history is None:
            history = [{"created_by": "krat"} for _ in range(new_layers)]
        history = [{"created": created, **h} for h in history]
        doc["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        doc["history"] = (base.history if base else []) + list(history)
        return doc

    def _commit(self, pendings: list[Pending]) -> list[Image]:
        svc, db = self.svc, self.svc.db
        with db.transaction():
            for p in pendings:
                self._check_present(p)
                row = q.ImageRow(p.config_digest, p.manifest_digest, str(p.doc.get("created") or ""),
                                 sum(r[2] for r in p.rows), str(p.doc.get("architecture") or ""),
                                 str(p.doc.get("os") or ""), p.parent_id, time.time())
                q.insert_image(db, row, p.rows)
                for ref in p.refs:
                    q.set_tag(db, str(ref), ref.repository, ref.tag or "latest", p.config_digest)
                for repository, digest in p.pinned:
                    q.add_repo_digest(db, repository, digest, p.config_digest)
        self.new_blobs, self.new_layers = [], []
        return [svc.get(p.config_digest) for p in pendings]

    def _check_present(self, p: Pending) -> None:
        # Under the write lock: a concurrent rmi may have moved away a blob or layer we
        # found present before; then this import must not claim it.
        svc = self.svc
        for blob in [p.manifest_digest, p.config_digest, *(r[1] for r in p.rows)]:
            if not svc.content.has(blob):
                raise Conflict(f"blob {blob} was removed by a concurrent command; retry")
        for diff_id, _, _ in p.rows:
            if not svc.layers.has(diff_id):
                raise Conflict(f"layer {diff_id} was removed by a concurrent command; retry")

    def undo(self) -> None:
        if not (self.new_blobs or self.new_layers):
            return
        svc = self.svc
        try:
            with svc.db.transaction():
                for blob in self.new_blobs:
                    if not q.blob_in_use(svc.db, blob):
                        svc.content.delete(blob)
                for diff_id in self.new_layers:
                    if not q.layer_in_use(svc.db, diff_id):
                        svc.layers.remove(diff_id)
        except Exception:
            pass  # the original error matters more; leftovers are pruned later
        self.new_blobs, self.new_layers = [], []


def _repo_digest(text: str) -> tuple[str, str]:
    ref = parse_reference(text, default_tag=False)
    if ref.digest is None:
        raise InvalidArgument(f"{text!r} is not a repository@digest reference")
    return ref.repository, str(ref.digest)


class Remover:
    """rmi and prune: rows go in one transaction, files are moved away inside it."""

    def __init__(self, svc: "ImageService") -> None:
        self.svc = svc
        self.trash: list[str] = []

    def remove(self, text: str, force: bool) -> list[tuple[str, str]]:
        db = self.svc.db
        try:
            with db.transaction():
                image_id = self.svc.resolve_id(text)
                name = tag_name_of(self.svc, text, image_id)
                if name is not None:
                    return self._remove_name(name, image_id, force)
                return self._remove_id(text, image_id, force)
        finally:
            self._empty_trash()

    def _remove_name(self, name: str, image_id: str, force: bool) -> list[tuple[str, str]]:
        db = self.svc.db
        short = image_id.split(":")[-1][:12]
        tags = q.tags_of(db, image_id)
        if len(tags) > 1:
            q.delete_tag(db, name)
            return [("Untagged", familiar(name))]
        users = q.containers_using(db, image_id)
        if users and not force:
            repo = familiar(name).rsplit(":", 1)[0]
            raise Conflict(f'conflict: unable to remove repository reference "{repo}" (must force) - '
                           f"container {users[0][:12]} is using its referenced image {short}")
        q.delete_tag(db, name)
        events = [("Untagged", familiar(name))]
        if users or q.children_of(db, image_id):
            return events  # still used: the image stays, untagged
        return events + self._delete(image_id)

    def _remove_id(self, text: str, image_id: str, force: bool) -> list[tuple[str, str]]:
        db = self.svc.db
        short = image_id.split(":")[-1][:12]
        users = q.containers_using(db, image_id)
        if users and not force:
            raise Conflict(f"conflict: unable to delete {short} (must be forced) - "
                           f"image is being used by container {users[0][:12]}")
        tags = q.tags_of(db, image_id)
        if len(tags) > 1 and not force:
            raise Conflict(f"conflict: unable to delete {short} (must be forced) - "
                           "image is referenced in multiple repositories")
        if q.children_of(db, image_id):
            raise Conflict(f"conflict: unable to delete {short} (cannot be forced) - "
                           "image has dependent child images")
        events = []
        for name in tags:
            q.delete_tag(db, name)
            events.append(("Untagged", familiar(name)))
        if users:
            return events  # forced while a container uses it: untag, keep its layers
        return events + self._delete(image_id)

    def _delete(self, image_id: str) -> list[tuple[str, str]]:
        db, svc = self.svc.db, self.svc
        row = q.get_image(db, image_id)
        blobs = [image_id, row.manifest_digest, *(r.blob_digest for r in q.layers_of(db, image_id))]
        freed = q.delete_image(db, image_id)
        for blob in dict.fromkeys(blobs):
            if not q.blob_in_use(db, blob):
                svc.content.delete(blob)
        for diff_id in freed:
            moved = _detach(svc.layers, diff_id)
            if moved is not None:
                self.trash.append(moved)
        return [("Deleted", image_id)]

    def _empty_trash(self) -> None:
        import shutil

        for path in self.trash:
            shutil.rmtree(path, ignore_errors=True)
        self.trash = []

    def prune(self, all_images: bool) -> tuple[list[tuple[str, str]], int]:
        db = self.svc.db
        events: list[tuple[str, str]] = []
        reclaimed = 0
        try:
            with db.transaction():
                while True:
                    victims = [listing for listing in q.list_images(db)
                               if not listing.has_children and (all_images or not listing.tags)
                               and not q.containers_using(db, listing.image.id)]
                    if not victims:
                        break
                    for listing in victims:
                        for name in listing.tags:
                            q.delete_tag(db, name)
                            events.append(("Untagged", familiar(name)))
                        reclaimed += listing.image.size
                        events += self._delete(listing.image.id)
        finally:
            self._empty_trash()
        self.collect_garbage()
        return events, reclaimed

    def collect_garbage(self, older_than_s: float = 3600.0) -> None:
        """Remove blobs and layer dirs no row uses, left by killed commands (old enough
        not to belong to an import still in progress)."""
        svc, db = self.svc, self.svc.db
        cutoff = time.time() - older_than_s
        svc.content.cleanup_ingest(older_than_s)
        svc.layers.cleanup(older_than_s)
        with db.transaction():
            blobs = q.referenced_blobs(db)
            for digest in list(svc.content.list()):
                path = svc.content.path(digest)
                if str(digest) not in blobs and _older(path, cutoff):
                    svc.content.delete(digest)
            layers = q.referenced_layers(db)
            for diff_id in list(svc.layers.list()):
                if str(diff_id) not in layers and _older(svc.layers.dir(diff_id), cutoff):
                    moved = _detach(svc.layers, str(diff_id))
                    if moved is not None:
                        self.trash.append(moved)
        self._empty_trash()


def _older(path: str, cutoff: float) -> bool:
    try:
        return os.lstat(path).st_mtime < cutoff
    except FileNotFoundError:
        return False


def _detach(layers, diff_id: str) -> str | None:
    """Rename a layer dir into the trash (atomic, fast: done under the DB write lock)."""
    target = layers.dir(diff_id)
    try:
        os.unlink(layers.link(diff_id))
    except FileNotFoundError:
        pass
    if not os.path.exists(target):
        return None
    trash = os.path.join(layers.root, ".trash")
    os.makedirs(trash, exist_ok=True)
    moved = os.path.join(trash, f"{os.path.basename(target)}-{os.getpid()}-{time.monotonic_ns()}")
    os.rename(target, moved)
    return moved


def _tag_name(text: str) -> str | None:
    try:
        ref = parse_reference(text)
    except InvalidArgument:
        return None
    return None if ref.digest is not None else str(ref)


def tag_name_of(svc: "ImageService", text: str, image_id: str) -> str | None:
    """The full tag name `text` used to name `image_id`, or None when it was an id or digest."""
    name = _tag_name(text)
    if name is not None and q.image_by_tag(svc.db, name) == image_id:
        return name
    return None
