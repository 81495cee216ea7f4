"""Distribution API v2 client: manifests, blobs, uploads, auth, TLS and registry configuration.

Owns: talking to OCI Distribution registries (ping, manifest negotiation, blob download
with digest verification and resume, monolithic/chunked uploads, cross-repository
mounts, tags, catalog), the auth flows (anonymous, basic, bearer token), the
Docker-compatible credentials file, per-registry TLS (certs.d) and insecure/mirror
configuration. Knows nothing about the local store: callers give it files to write
and read. Imports only oci and errors (httpx lazily, inside the client).
"""
