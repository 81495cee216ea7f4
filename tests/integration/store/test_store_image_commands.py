"""load/save, tag, rmi, image inspect, history, image prune and info through the CLI."""

import json
import os
import sqlite3
import tarfile

import pytest


def ids(krat):
    return krat.ok("images", "-a", "-q", "--no-trunc").stdout.split()


def blobs(krat):
    folder = krat.root / "content/blobs/sha256"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def layer_dirs(krat):
    folder = krat.root / "layers"
    return sorted(p.name for p in folder.iterdir() if len(p.name) == 64) if folder.exists() else []


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_save_load_roundtrip_keeps_ids(krat, busybox_image, tmp_path, fmt):
    out = tmp_path / "img.tar"
    krat.ok("save", "--format", fmt, "-o", str(out), "busybox")
    names = tarfile.open(out).getnames()
    assert "index.json" in names and "oci-layout" in names
    assert ("manifest.json" in names) == (fmt == "docker-archive")
    krat.ok("rmi", "busybox")
    assert blobs(krat) == [] and layer_dirs(krat) == []
    proc = krat.ok("load", "-i", str(out))
    assert proc.stdout.strip() == "Loaded image: busybox:latest"
    assert ids(krat) == [busybox_image]


def test_save_to_stdout_and_load_from_stdin(krat, busybox_image):
    data = krat.ok("save", "busybox", input=b"").stdout
    krat.ok("rmi", "busybox")
    proc = krat.ok("load", input=data)
    assert b"Loaded image: busybox:latest" in proc.stdout
    assert ids(krat) == [busybox_image]


def test_oci_dir_roundtrip(krat, busybox_image, tmp_path):
    krat.ok("tag", "busybox", "localhost:5000/box:v2")
    krat.ok("save", "--format", "oci-dir", "-o", str(tmp_path / "layout"), "localhost:5000/box:v2")
    index = json.loads((tmp_path / "layout/index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "localhost:5000/box:v2"
    krat.ok("rmi", "-f", busybox_image)
    assert krat.ok("load", "-i", str(tmp_path / "layout")).stdout.strip() == "Loaded image: localhost:5000/box:v2"


def test_save_by_id_has_no_tags(krat, busybox_image, tmp_path):
    out = tmp_path / "img.tar"
    krat.ok("save", "-o", str(out), busybox_image[7:19])
    manifest = json.loads(tarfile.open(out).extractfile("manifest.json").read())
    assert manifest[0]["RepoTags"] is None


def test_tag_moves_and_rmi_untags(krat, busybox_image, busybox_tar):
    krat.ok("tag", "busybox", "a/b:1")
    other = krat.ok("import", str(busybox_tar), "other:1").stdout.strip()
    krat.ok("tag", "other:1", "a/b:1")  # a tag moves, like Docker's
    rows = {l.split()[0] + ":" + l.split()[1]: l.split()[2] for l in krat.ok("images").stdout.splitlines()[1:]}
    assert rows["a/b:1"] == other[7:19]
    out = krat.ok("rmi", "a/b:1").stdout
    assert out == "Untagged: a/b:1\n"  # other:1 still names it
    assert krat.ok("rmi", "other:1").stdout == f"Untagged: other:1\nDeleted: {other}\n"


def test_rmi_by_id_with_several_tags_needs_force(krat, busybox_image):
    krat.ok("tag", "busybox", "second:1")
    err = krat.fails("rmi", busybox_image[7:19])
    assert "referenced in multiple repositories" in err
    out = krat.ok("rmi", "-f", busybox_image[7:19]).stdout
    assert "Untagged: busybox:latest" in out and f"Deleted: {busybox_image}" in out
    assert ids(krat) == [] and blobs(krat) == [] and layer_dirs(krat) == []


def test_rmi_refuses_while_a_container_uses_the_image(krat, busybox_image):
    krat.ok("images")  # the schema exists
    db = sqlite3.connect(krat.root / "krat.db")
    created = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'containers'").fetchone()
    if not created:
        db.execute("CREATE TABLE containers (id TEXT PRIMARY KEY, image_id TEXT)")
    cols = [r[1] for r in db.execute("PRAGMA table_info(containers)")]
    db.execute(f"INSERT INTO containers ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
               ["c0ffee" * 10 if c == "id" else (busybox_image if c == "image_id" else "x") for c in cols])
    db.commit()
    err = krat.fails("rmi", "busybox")
    assert "container c0ffeec0ffee is using its referenced image" in err
    assert "Untagged: busybox:latest" in krat.ok("rmi", "-f", "busybox").stdout
    assert ids(krat) == [busybox_image], "the image stays (untagged) while a container uses it"
    assert layer_dirs(krat)


def test_unknown_image_errors(krat, busybox_image):
    assert "No such image: nope:latest" in krat.fails("rmi", "nope")
    assert "No such image: nope:latest" in krat.fails("image", "inspect", "nope")
    assert "No such image" in krat.fails("tag", "nope", "x:1")
    assert "invalid reference format" in krat.fails("tag", "busybox", "UPPER:1")
    assert "No such image" in krat.fails("save", "-o", "/tmp/never-written.tar", "nope")


def test_image_inspect_has_dockers_keys(krat, busybox_image):
    (doc,) = json.loads(krat.ok("image", "inspect", "busybox").stdout)
    for key in ("Id", "RepoTags", "RepoDigests", "Created", "Architecture", "Os", "Config", "RootFS", "Size"):
        assert key in doc
    assert doc["Id"] == busybox_image and doc["RepoTags"] == ["busybox:latest"]
    assert doc["Config"]["Cmd"] == ["sh"] and doc["RootFS"]["Type"] == "layers"
    assert krat.ok("image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", "busybox").stdout == "linux/amd64\n"


def test_history(krat, busybox_image):
    lines = krat.ok("history", "busybox").stdout.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith(busybox_image[7:19]) and "Imported from" in lines[1]
    rows = [json.loads(l) for l in krat.ok("history", "--format", "json", "busybox").stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["Comment"].startswith("Imported from")


def test_image_prune_removes_dangling_only(krat, busybox_image, busybox_tar, tmp_path):
    dangling = krat.ok("import", "-c", "CMD [\"true\"]", str(busybox_tar)).stdout.strip()
    out = krat.ok("image", "prune", "-f").stdout
    assert f"deleted: {dangling}" in out and "Total reclaimed space:" in out
    assert ids(krat) == [busybox_image]
    out = krat.ok("image", "prune", "-a", "-f").stdout
    assert "untagged: busybox:latest" in out
    assert ids(krat) == [] and blobs(krat) == [] and layer_dirs(krat) == []


def test_info(krat):
    doc = json.loads(krat.ok("info", "--format", "json").stdout)
    assert doc["root"] == str(krat.root) and doc["runroot"] == str(krat.runroot)
    assert doc["cgroup_version"] in ("1", "2") and isinstance(doc["overlay"], bool)
    text = krat.ok("info").stdout
    for label in ("Storage driver:", "Cgroup version:", "User namespaces:", "Seccomp:"):
        assert label in text


def test_load_gzip_compressed_archive(krat, busybox_image, tmp_path):
    import gzip

    out = tmp_path / "img.tar"
    krat.ok("save", "-o", str(out), "busybox")
    packed = tmp_path / "img.tar.gz"
    packed.write_bytes(gzip.compress(out.read_bytes()))
    krat.ok("rmi", "busybox")
    assert krat.ok("load", "-i", str(packed)).stdout.strip() == "Loaded image: busybox:latest"
    assert ids(krat) == [busybox_image]


@pytest.mark.root
def test_rmi_refuses_while_a_real_container_exists(krat, busybox_image):
    cid = krat.ok("create", "--name", "holder", "busybox", "true").stdout.strip()
    assert f"container {cid[:12]} is using its referenced image" in krat.fails("rmi", "busybox")
    krat.ok("rm", "holder")
    assert f"Deleted: {busybox_image}" in krat.ok("rmi", "busybox").stdout


@pytest.mark.root
def test_an_images_start_view_is_stored_once_and_matches_the_full_image(krat, busybox_image, tmp_path):
    """What a container start reads of an image (ImageService.get_for_run) comes from the row's
    run_doc after the first start: the same config and layers as get(), gone with the row."""
    from krat.engine.config import Paths
    from krat.engine.images import ImageService

    def run_doc():
        with sqlite3.connect(krat.root / "krat.db") as db:
            return db.execute("SELECT run_doc FROM images WHERE id = ?", (busybox_image,)).fetchone()

    images = ImageService(Paths(str(krat.root), str(krat.runroot)))
    full = images.get(busybox_image)
    assert run_doc() == (None,)
    for _ in range(2):  # the first stores it, the second reads it
        view = images.get_for_run(busybox_image)
        assert (view.id, view.config_doc, view.diff_ids, view.layer_dirs, view.blob_digests) == (
            full.id, full.config_doc, full.diff_ids, full.layer_dirs, full.blob_digests)
        assert run_doc()[0]
    assert all(os.path.isdir(p) for p in view.layer_dirs)
    out = tmp_path / "img.tar"
    krat.ok("save", "-o", str(out), "busybox")
    krat.ok("rmi", "busybox")
    assert run_doc() is None
    krat.ok("load", "-i", str(out))
    assert run_doc() == (None,)
    assert krat.ok("run", "--rm", "--network", "none", "busybox", "cat", "/etc/hostname").stdout.strip()
    assert run_doc()[0]
