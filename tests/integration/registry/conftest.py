"""Fixtures: a real docker-registry on loopback (plain, TLS, htpasswd, bearer token)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import require_binary
from registryd import (
    REGISTRY_BIN, TokenServer, htpasswd_file, make_ca, make_server_cert, start_registry,
)

USER, PASSWORD = "kratuser", "s3cret-pass"


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never read or write the real user's credentials, certs.d or registries.conf."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for var in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "KRAT_REGISTRIES_CONF"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def kratenv(krat, private_config):
    """The krat CLI fixture with the private HOME/XDG_CONFIG_HOME of private_config."""
    krat.env.update(HOME=str(private_config), XDG_CONFIG_HOME=str(private_config / ".config"))
    for var in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "KRAT_REGISTRIES_CONF"):
        krat.env.pop(var, None)
    return krat


@pytest.fixture
def registry(tmp_path: Path):
    require_binary(REGISTRY_BIN)
    reg = start_registry(tmp_path / "registry")
    yield reg
    reg.stop()


@pytest.fixture
def tls_registry(tmp_path: Path):
    require_binary(REGISTRY_BIN)
    require_binary("openssl")
    ca = make_ca(tmp_path / "pki")
    server = make_server_cert(tmp_path / "pki", ca)
    reg = start_registry(tmp_path / "registry-tls", tls=server)
    reg.ca = ca[0]
    yield reg
    reg.stop()


@pytest.fixture
def basic_registry(tmp_path: Path):
    require_binary(REGISTRY_BIN)
    require_binary("htpasswd")
    pw = htpasswd_file(tmp_path / "htpasswd", USER, PASSWORD)
    reg = start_registry(tmp_path / "registry-basic", htpasswd=pw)
    yield reg
    reg.stop()


@pytest.fixture
def token_registry(tmp_path: Path):
    require_binary(REGISTRY_BIN)
    require_binary("openssl")
    tokens = TokenServer(tmp_path / "token", {USER: PASSWORD})
    reg = start_registry(tmp_path / "registry-token", token=tokens.registry_config())
    reg.tokens = tokens
    yield reg
    reg.stop()
    tokens.close()


def push_raw(host: str, repo: str, img, tag: str = "v1", creds=None) -> None:
    """Put a synthetic image straight into a registry (test setup, independent of krat's store)."""
    import io

    from krat.registry import blobs
    from krat.registry.client import RegistryClient
    from krat.registry.hosts import RegistriesConfig, endpoint_for

    with RegistryClient(endpoint_for(host, RegistriesConfig()), creds) as client:
        for desc, data in img.blobs():
            blobs.upload(client, repo, desc, lambda data=data: io.BytesIO(data))
        client.put_manifest(repo, tag, img.manifest, what=repo)


def store_state(root: Path) -> tuple:
    """Blobs, layer dirs and image rows of a krat root: equal before and after a failed pull."""
    import sqlite3

    blobs = sorted(p.name for p in (root / "content" / "blobs" / "sha256").glob("*")) \
        if (root / "content" / "blobs").exists() else []
    # layer dirs, plus whatever sits in the store's scratch dirs (.tmp, .trash): those must be empty
    layers = sorted(str(p.relative_to(root)) for p in (root / "layers").glob("*") if not p.name.startswith(".")) \
        + sorted(str(p.relative_to(root)) for p in (root / "layers").glob(".*/*"))
    rows: list = []
    db = root / "krat.db"
    if db.exists():
        conn = sqlite3.connect(db)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in ("images", "tags", "repo_digests", "image_layers", "layers"):
                if table in tables:
                    rows.append((table, sorted(map(tuple, conn.execute(f"SELECT * FROM {table}")))))
        finally:
            conn.close()
    return blobs, layers, rows
