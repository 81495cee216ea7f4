"""The two OCI specifications as typed data: digests, references, image and runtime documents.

Owns: parsing, validation and (de)serialisation of spec documents. Imports only the
standard library and krat.errors.
"""

from krat.oci.digest import Digest, sha256_bytes
from krat.oci.reference import Reference, parse_reference

__all__ = ["Digest", "Reference", "parse_reference", "sha256_bytes"]
