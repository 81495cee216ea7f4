"""Content digests ("sha256:<64 hex>") as a value type."""

from __future__ import annotations

import re

from krat.errors import InvalidArgument
from krat.oci.records import record

_DIGEST = re.compile(r"^(?P<alg>[a-z0-9]+(?:[.+_-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)$")
_HEX_LEN = {"sha256": 64, "sha512": 128}


@record(frozen=True, order=True)
class Digest:
    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> "Digest":
        match = _DIGEST.match(text)
        if not match:
            raise InvalidArgument(f"invalid digest {text!r}: expected ALGORITHM:HEX")
        alg, hex_ = match["alg"], match["hex"]
        want = _HEX_LEN.get(alg)
        if want is None:
            raise InvalidArgument(f"invalid digest {text!r}: unsupported algorithm {alg!r}")
        if len(hex_) != want or not re.fullmatch(r"[0-9a-f]+", hex_):
            raise InvalidArgument(f"invalid digest {text!r}: {alg} needs {want} lowercase hex digits")
        return cls(alg, hex_)

    @classmethod
    def from_sha256(cls, hex_: str) -> "Digest":
        return cls("sha256", hex_)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        """The 12-character id Docker prints."""
        return self.hex[:12]

    def hasher(self):
        import hashlib  # lazily: OpenSSL's start-up cost is paid only by commands that hash

        return hashlib.new(self.algorithm)


def sha256_bytes(data: bytes) -> Digest:
    import hashlib

    return Digest("sha256", hashlib.sha256(data).hexdigest())
