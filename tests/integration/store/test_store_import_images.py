"""`krat import` and `krat images` through the real CLI."""

import gzip
import json
import sqlite3

import pytest
import zstandard


def rows(krat):
    return [json.loads(line) for line in krat.ok("images", "--format", "json").stdout.splitlines()]


def test_busybox_fixture_imports_with_cmd(krat, busybox_image):
    assert busybox_image.startswith("sha256:") and len(busybox_image) == 71
    out = krat.ok("images").stdout.splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    repo, tag, short, *rest = out[1].split()
    assert (repo, tag, short) == ("busybox", "latest", busybox_image[7:19])
    assert out[1].rstrip().endswith("MB")
    config = json.loads((krat.root / "content/blobs/sha256" / busybox_image[7:]).read_text())
    assert config["config"]["Cmd"] == ["sh"]
    assert config["rootfs"]["diff_ids"][0].startswith("sha256:")
    assert config["architecture"] == "amd64" and config["os"] == "linux"


@pytest.mark.parametrize("compress", [gzip.compress, lambda b: zstandard.ZstdCompressor().compress(b)])
def test_import_compressed_from_stdin_gives_the_same_layer(krat, busybox_tar, busybox_image, compress):
    data = compress(busybox_tar.read_bytes())
    image_id = krat.ok("import", "-", "other:1", input=data).stdout.decode().strip()
    assert image_id.startswith("sha256:")
    layers = sorted(p.name for p in (krat.root / "layers").iterdir() if len(p.name) == 64)
    assert len(layers) == 1, "the same diff_id is unpacked once and shared"
    db = sqlite3.connect(krat.root / "krat.db")
    assert db.execute("SELECT refcount FROM layers").fetchall() == [(2,)]


def test_import_changes(krat, busybox_tar):
    krat.ok("import", "-c", "ENV A=1 B='two words'", "-c", "WORKDIR /srv", "-c", "ENTRYPOINT /bin/sh",
            "-c", "EXPOSE 80 53/udp", "-c", "USER nobody", "-c", "LABEL x=y", "-m", "hello",
            str(busybox_tar), "localhost:5000/team/app:v1")
    (row,) = rows(krat)
    assert (row["Repository"], row["Tag"]) == ("localhost:5000/team/app", "v1")
    image_id = krat.ok("images", "-q", "--no-trunc").stdout.strip()
    config = json.loads((krat.root / "content/blobs/sha256" / image_id[7:]).read_text())
    c = config["config"]
    assert c["Env"] == ["A=1", "B=two words"] and c["WorkingDir"] == "/srv"
    assert c["Entrypoint"] == ["/bin/sh", "-c", "/bin/sh"]
    assert c["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert c["User"] == "nobody" and c["Labels"] == {"x": "y"}
    assert config["history"][0]["comment"] == "hello"


def test_import_untagged_is_dangling(krat, busybox_tar):
    image_id = krat.ok("import", str(busybox_tar)).stdout.strip()
    (row,) = rows(krat)
    assert (row["Repository"], row["Tag"], row["ID"]) == ("<none>", "<none>", image_id[7:19])
    assert krat.ok("images", "-f", "dangling=true", "-q").stdout.strip() == image_id[7:19]
    assert krat.ok("images", "-f", "dangling=false", "-q").stdout.strip() == ""


def test_images_filters_and_templates(krat, busybox_tar, busybox_image):
    krat.ok("import", str(busybox_tar), "alpha:1")
    names = krat.ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(names) == ["alpha:1", "busybox:latest"]
    assert krat.ok("images", "busybox", "--format", "{{.Repository}}").stdout.split() == ["busybox"]
    assert krat.ok("images", "-f", "reference=alp*", "--format", "{{.Tag}}").stdout.split() == ["1"]


@pytest.mark.parametrize("args, message", [
    (["import", "/nonexistent.tar"], "cannot open /nonexistent.tar"),
    (["import", "-", "Bad:Name"], "invalid reference format"),
    (["import", "-c", "RUN true", "-"], "RUN is not one of"),
    (["images", "-f", "bogus=1"], "invalid filter"),
])
def test_bad_input_one_line(krat, args, message):
    err = krat.fails(*args, input=b"")
    assert message in err and err.count("\n") == 0


def test_bad_tarball_leaves_store_unchanged(krat, busybox_image):
    before = sorted(p.name for p in (krat.root / "content/blobs/sha256").iterdir())
    err = krat.fails("import", "-", "junk:1", input=b"this is not a tar archive" * 100)
    assert "tar" in err
    after = sorted(p.name for p in (krat.root / "content/blobs/sha256").iterdir())
    assert after == before
    assert [r["Repository"] for r in rows(krat)] == ["busybox"]
