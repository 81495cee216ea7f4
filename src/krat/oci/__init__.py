"""The two OCI specifications as typed data: digests, references, image and runtime documents.

Owns: parsing, validation and (de)serialisation of spec documents. Imports only the
standard library and krat.errors.

The names below load on first use, so `import krat.oci.runtime` (the container start
path) does not pay for hashlib and the reference grammar.
"""

from __future__ import annotations

import sys

_LAZY = {"Digest": "krat.oci.digest", "sha256_bytes": "krat.oci.digest",
         "Reference": "krat.oci.reference", "parse_reference": "krat.oci.reference"}

__all__ = ["Digest", "Reference", "parse_reference", "sha256_bytes"]


def __getattr__(name: str) -> object:  # no typing import: it costs ~3 ms with re
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'krat.oci' has no attribute {name!r}")
    __import__(module)  # not importlib.import_module: the importlib package loads warnings
    value = getattr(sys.modules[module], name)
    globals()[name] = value
    return value
