"""Distribution API v2 client: manifests, blobs, uploads, auth.

Imports only oci and errors.
"""
