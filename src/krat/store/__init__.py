"""The image store: content-addressed blobs (OCI layout), layer directories, overlay snapshots.

Imports only oci and errors.
"""
