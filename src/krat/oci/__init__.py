"""The two OCI specifications as typed data: digests, references, image and runtime documents.

Owns: parsing, validation and (de)serialisation of spec documents, and the two light
helpers every layer above may use on start-up paths: records.py (typed records, in place
of dataclasses) and jsoncodec.py (json.loads/dumps without importing json). Imports only
the standard library and krat.errors.

The names below load on first use, so `import krat.oci.runtime` (the container start
path) does not pay for hashlib and the reference grammar.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_LAZY = {"Digest": "krat.oci.digest", "sha256_bytes": "krat.oci.digest",
         "Reference": "krat.oci.reference", "parse_reference": "krat.oci.reference"}

__all__ = ["Digest", "Reference", "parse_reference", "sha256_bytes"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'krat.oci' has no attribute {name!r}")
    value = getattr(__import__(module, fromlist=[name]), name)
    globals()[name] = value
    return value
