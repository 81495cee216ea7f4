"""Docker's JSON views of an image: `image inspect` and `history` (for the CLI and the API)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from krat.engine.images import Image, ImageService

# The container-config shape Docker prints under "Config", with its defaults.
CONFIG_DEFAULTS: dict = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "ExposedPorts": None, "Tty": False, "OpenStdin": False, "StdinOnce": False,
    "Env": None, "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
    "OnBuild": None, "Labels": None,
}


def inspect_doc(svc: "ImageService", image: "Image") -> dict:
    doc = image.config_doc
    config = {**CONFIG_DEFAULTS, **image.config}
    return {
        "Id": image.id,
        "RepoTags": list(image.repo_tags),
        "RepoDigests": list(image.repo_digests),
        "Parent": image.parent_id or "",
        "Comment": doc.get("comment", ""),
        "Created": image.created or doc.get("created", ""),
        "DockerVersion": doc.get("docker_version", ""),
        "Author": doc.get("author", ""),
        "Config": config,
        "Architecture": image.architecture,
        "Variant": doc.get("variant") or None,
        "Os": image.os,
        "Size": image.size,
        "GraphDriver": {
            "Name": "overlay",
            "Data": {"LowerDir": ":".join(str(p) for p in reversed(image.layer_dirs))},
        },
        "RootFS": {"Type": "layers", "Layers": list(image.diff_ids)},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Descriptor": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image.manifest_digest,
            "size": svc.content.size(image.manifest_digest),
        },
    }


def history_rows(svc: "ImageService", image: "Image") -> list[dict]:
    """One row per history entry, newest first: Id (top only), Created, CreatedBy, Size, Comment."""
    from krat.db import images as q

    sizes = [q.layer_size(svc.db, d) or 0 for d in image.diff_ids]
    rows = []
    layer = 0
    for entry in image.history:
        size = 0
        if not entry.get("empty_layer"):
            size = sizes[layer] if layer < len(sizes) else 0
            layer += 1
        rows.append({"Created": entry.get("created", ""), "CreatedBy": entry.get("created_by", ""),
                     "Size": size, "Comment": entry.get("comment", ""), "Id": "<missing>", "Tags": None})
    rows.reverse()
    if rows:
        rows[0]["Id"] = image.id
        rows[0]["Tags"] = list(image.repo_tags) or None
    return rows
