"""The host's CA bundle, lent to builds and containers (`--host-ca`).

Behind a TLS-inspecting proxy (corporate networks, this project's CI) only the host's
CA bundle trusts the certificates that package managers meet. Mounting it read-only
over the image's bundle, and pointing the usual variables at it, lets `pip`, `curl`,
`npm` and `git` work without baking the host's CAs into an image.
"""

from __future__ import annotations

import os

from krat.errors import InvalidArgument

# Where distributions keep the bundle: Debian/Ubuntu/Alpine, Fedora/RHEL, macOS-style.
HOST_CANDIDATES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")
TARGET = "/etc/ssl/certs/ca-certificates.crt"
ENV_NAMES = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
             "GIT_SSL_CAINFO")


def host_bundle(path: str | None = None) -> str:
    """The bundle to lend: `path` when given, else the first one this host has."""
    if path:
        if not os.path.isfile(path):
            raise InvalidArgument(f"--host-ca {path}: no such file")
        return os.path.abspath(path)
    for candidate in HOST_CANDIDATES:
        if os.path.isfile(candidate):
            return candidate
    raise InvalidArgument(f"--host-ca: this host has no CA bundle ({', '.join(HOST_CANDIDATES)}); name one")


def env() -> dict[str, str]:
    """Variables that make common tools read TARGET (pip's own certifi copy included)."""
    return {name: TARGET for name in ENV_NAMES}
