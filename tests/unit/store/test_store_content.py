import hashlib
import io

import pytest

from krat.errors import InvalidArgument, NotFound
from krat.oci.digest import Digest
from krat.store.content import ContentStore


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_ingest_bytes_is_an_oci_layout(tmp_path):
    store = ContentStore(tmp_path / "c")
    ing = store.ingest_bytes(b"hello")
    assert str(ing.digest) == sha(b"hello") and ing.size == 5 and ing.new
    assert (tmp_path / "c" / "oci-layout").read_text() == '{"imageLayoutVersion": "1.0.0"}'
    assert store.path(ing.digest) == str(tmp_path / "c" / "blobs" / "sha256" / ing.digest.hex)
    assert store.read(ing.digest) == b"hello" and store.has(str(ing.digest))
    again = store.ingest_stream(io.BytesIO(b"hello"))
    assert again.digest == ing.digest and not again.new


def test_mismatched_digest_leaves_nothing(tmp_path):
    store = ContentStore(tmp_path / "c")
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        store.ingest_stream(io.BytesIO(b"evil"), expected=sha(b"good"))
    assert list(store.list()) == []
    assert list((tmp_path / "c" / "ingest").iterdir()) == []


def test_size_mismatch_rejected(tmp_path):
    store = ContentStore(tmp_path / "c")
    with pytest.raises(InvalidArgument, match="size mismatch"):
        store.ingest_stream(io.BytesIO(b"abc"), expected=sha(b"abc"), expected_size=4)
    assert not store.has(sha(b"abc"))


def test_open_missing_and_delete(tmp_path):
    store = ContentStore(tmp_path / "c")
    with pytest.raises(NotFound, match="not found"):
        store.open(sha(b"x"))
    d = store.ingest_bytes(b"x").digest
    store.delete(d)
    assert not store.has(d)
    assert list(store.list()) == []


def test_bad_digest_text_rejected(tmp_path):
    with pytest.raises(InvalidArgument):
        ContentStore(tmp_path).path("sha256:../../etc/passwd")
    assert isinstance(Digest.parse(sha(b"")), Digest)


def test_layer_short_names_stay_the_base32_prefix_existing_stores_use():
    import base64

    from krat.store.layers import short_name

    for data in (b"", b"a", b"layer"):
        hex_ = hashlib.sha256(data).hexdigest()
        want = base64.b32encode(bytes.fromhex(hex_)[:17]).decode()[:26]
        assert short_name(hex_) == short_name("sha256:" + hex_) == short_name(Digest.parse("sha256:" + hex_)) == want
