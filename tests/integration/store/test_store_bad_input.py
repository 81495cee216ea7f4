"""Hostile and broken input: one line on stderr, exit 125, no traceback, the store unchanged."""

import gzip
import io
import json
import tarfile

import pytest
from layer_tars import entry, make_tar
from store_state import store_state


def rebuild(tar_bytes: bytes, change) -> bytes:
    """Re-pack an archive, letting `change(name, data) -> (name, data) | None` edit members."""
    src = tarfile.open(fileobj=io.BytesIO(tar_bytes))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isreg() else None
            result = change(m.name, data) if m.isreg() else (m.name, None)
            if result is None:
                continue
            ti = tarfile.TarInfo(result[0])
            ti.type, ti.mode = m.type, m.mode
            if result[1] is not None:
                ti.size = len(result[1])
                dst.addfile(ti, io.BytesIO(result[1]))
            else:
                dst.addfile(ti)
    return out.getvalue()


HOSTILE_ROOTFS = {
    "dotdot": [entry("../../escape", data=b"x")],
    "dotdot-inside": [entry("etc", "dir"), entry("etc/../../escape", data=b"x")],
    "symlink-then-write": [entry("evil", "symlink", link="/tmp"), entry("evil/pwned", data=b"x")],
    "relative-symlink-escape": [entry("evil", "symlink", link="../../../../../tmp"),
                                entry("evil/pwned", data=b"x")],
    "hardlink-out": [entry("shadow", "hardlink", link="../../../etc/shadow")],
    "hardlink-absolute": [entry("shadow", "hardlink", link="/etc/shadow")],
    "whiteout-upward": [entry("a", "dir"), entry("a/.wh..")],
    "whiteout-through-symlink": [entry("evil", "symlink", link="/"), entry("evil/.wh.etc")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_ROOTFS))
def test_hostile_rootfs_rejected_and_store_unchanged(krat, busybox_image, case, tmp_path):
    before = store_state(krat.root)
    err = krat.fails("import", "-", f"hostile:{case}", input=make_tar(HOSTILE_ROOTFS[case]))
    assert "unsafe" in err or "not in the layer" in err
    assert store_state(krat.root) == before
    assert not (tmp_path.parent / "escape").exists()


def test_truncated_rootfs_file_rejected(krat, busybox_image, busybox_tar, tmp_path):
    cut = tmp_path / "cut.tar"
    cut.write_bytes(busybox_tar.read_bytes()[:1_000_000])
    before = store_state(krat.root)
    assert "truncated" in krat.fails("import", str(cut), "cut:1")
    assert store_state(krat.root) == before


def test_absolute_paths_are_neutralised(krat):
    krat.ok("import", "-", "abs:1", input=make_tar([entry("/etc/motd", data=b"hi")]))
    (layer,) = [p for p in (krat.root / "layers").iterdir() if len(p.name) == 64]
    assert (layer / "diff/etc/motd").read_bytes() == b"hi"


@pytest.fixture
def saved(krat, busybox_image, tmp_path) -> bytes:
    krat.ok("tag", "busybox", "saved:1")
    out = tmp_path / "saved.tar"
    krat.ok("save", "-o", str(out), "saved:1")
    krat.ok("rmi", "saved:1")
    return out.read_bytes()


def _layer_name(archive: bytes) -> str:
    manifest = json.loads(tarfile.open(fileobj=io.BytesIO(archive)).extractfile("manifest.json").read())
    return manifest[0]["Layers"][0]


BROKEN = {
    "truncated": lambda a: a[: len(a) // 2],
    "not-a-tar": lambda a: b"garbage" * 500,
    "corrupt-gzip": lambda a: gzip.compress(a)[:2000] + b"\0" * 2000,
    "blob-mis-digested": lambda a: rebuild(a, lambda n, d: (n, d[:-1] + b"!") if n == _layer_name(a) else (n, d)),
    "layer-missing": lambda a: rebuild(a, lambda n, d: None if n == _layer_name(a) else (n, d)),
    "no-manifest": lambda a: rebuild(a, lambda n, d: None if n in ("manifest.json", "index.json") else (n, d)),
    "manifest-not-json": lambda a: rebuild(a, lambda n, d: (n, b"{nope") if n == "manifest.json" else (n, d)),
    "diff-id-mismatch": lambda a: rebuild(a, lambda n, d: (
        (n.replace(_layer_name(a), "x/layer.tar"), make_tar([entry("other", data=b"1")]))
        if n == _layer_name(a) else (n, d.replace(_layer_name(a).encode(), b"x/layer.tar") if n == "manifest.json" else d))),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_archive_rejected_and_store_unchanged(krat, saved, case):
    before = store_state(krat.root)
    err = krat.fails("load", input=BROKEN[case](saved))
    assert err.startswith("Error: ") and "\n" not in err
    assert store_state(krat.root) == before


def docker_archive(layers: list[bytes], tag: str = "evil:1") -> bytes:
    """A minimal legacy-style Docker archive: manifest.json, config.json, <n>/layer.tar."""
    import hashlib

    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": [tag],
                            "Layers": [f"{i}/layer.tar" for i in range(len(layers))]}]).encode()
    files = [entry("manifest.json", data=manifest), entry("config.json", data=config)]
    files += [entry(f"{i}/layer.tar", data=layer) for i, layer in enumerate(layers)]
    return make_tar(files)


def test_minimal_docker_archive_loads(krat):
    archive = docker_archive([make_tar([entry("hello", data=b"hi")])], "mini:1")
    assert krat.ok("load", input=archive).stdout == b"Loaded image: mini:1\n"


@pytest.mark.parametrize("case", sorted(HOSTILE_ROOTFS))
def test_hostile_layer_inside_an_archive(krat, saved, case):
    good = make_tar([entry("ok", data=b"1")])
    before = store_state(krat.root)
    err = krat.fails("load", input=docker_archive([good, make_tar(HOSTILE_ROOTFS[case])]))
    assert "unsafe" in err or "not in the layer" in err
    assert store_state(krat.root) == before


@pytest.mark.parametrize("args, message", [
    (["tag", "busybox", "bad name"], "invalid reference format"),
    (["tag", "busybox", "x@sha256:" + "0" * 64], "digest"),
    (["rmi", "sha256:zz"], "invalid image id"),
    (["image", "inspect", "busybox@sha256:1234"], "invalid"),
    (["save", "--format", "tarball", "-o", "/tmp/x.tar", "busybox"], "unknown archive format"),
    (["load", "-i", "/nonexistent/archive.tar"], "cannot open"),
])
def test_bad_references_and_flags(krat, busybox_image, args, message):
    before = store_state(krat.root)
    assert message in krat.fails(*args)
    assert store_state(krat.root) == before
