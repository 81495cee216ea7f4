"""Fixtures: a real docker-registry on loopback (plain, TLS, htpasswd, bearer token)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import require_binary
from registryd import (
    REGISTRY_BIN, TokenServer, htpasswd_file, make_ca, make_server_cert, start_registry,
)

from regsupport import PASSWORD, USER  # noqa: F401


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
    for var in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG"):
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
