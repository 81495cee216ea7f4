"""Layer compression for push: valid gzip, deterministic, with and without ISA-L."""

import gzip
import io
import os

from krat.engine import layercompress


def sample() -> bytes:
    text = b"".join(b"line %d of a compressible file\n" % i for i in range(60_000))
    return text + os.urandom(1_500_000) + text


def test_blockwise_zlib_fallback_is_valid_deterministic_gzip():
    data = sample()
    first = b"".join(layercompress.gzip_stream(layercompress.read_blocks(io.BytesIO(data))))
    again = b"".join(layercompress.gzip_stream(layercompress.read_blocks(io.BytesIO(data))))
    assert first == again and gzip.decompress(first) == data
    assert len(first) < len(data) * 0.75  # text deflated, random stored
    assert gzip.decompress(b"".join(layercompress.gzip_stream([]))) == b""


def test_gzip_file_is_valid_and_deterministic():
    data = sample()
    first = b"".join(layercompress.gzip_file(io.BytesIO(data)))
    assert first == b"".join(layercompress.gzip_file(io.BytesIO(data)))
    assert gzip.decompress(first) == data
