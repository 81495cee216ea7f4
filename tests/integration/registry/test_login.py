"""`krat login/logout` against real registries (htpasswd basic auth, bearer token)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from regsupport import PASSWORD, USER, push_raw
from regimages import make_image

pytestmark = pytest.mark.interop


def auth_path(home):
    return home / ".config" / "krat" / "auth.json"


@pytest.mark.parametrize("kind", ["basic_registry", "token_registry"])
def test_login_stores_0600_credentials_and_logout_removes_them(kind, request, kratenv, private_config):
    reg = request.getfixturevalue(kind)
    out = kratenv.ok("login", "-u", USER, "--password-stdin", reg.host, input=PASSWORD + "\n").stdout
    assert "Login Succeeded" in out
    path = auth_path(private_config)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert reg.host in json.loads(path.read_text())["auths"]
    # the stored credentials are used: search (the catalog) needs them
    push_raw_auth(reg, "team/app")
    assert "team/app" in kratenv.ok("search", f"{reg.host}/app").stdout
    assert "Removing login credentials" in kratenv.ok("logout", reg.host).stdout
    assert reg.host not in json.loads(path.read_text())["auths"]
    assert "Not logged in" in kratenv.ok("logout", reg.host).stdout
    err = kratenv.fails("search", f"{reg.host}/app")
    assert "unauthorized" in err


def push_raw_auth(reg, repo):
    from krat.registry.auth import Credentials

    push_raw(reg.host, repo, make_image((100,)), creds=Credentials(USER, PASSWORD))


@pytest.mark.parametrize("kind", ["basic_registry", "token_registry"])
def test_login_with_bad_password_is_one_line_and_stores_nothing(kind, request, kratenv, private_config):
    reg = request.getfixturevalue(kind)
    err = kratenv.fails("login", "-u", USER, "--password-stdin", reg.host, input="wrong\n")
    assert "incorrect username or password" in err and len(err.splitlines()) == 1
    assert not auth_path(private_config).exists()


def test_login_reads_docker_config_for_pulls_and_unreachable_is_clear(basic_registry, kratenv, private_config):
    import base64

    docker = private_config / ".docker"
    docker.mkdir()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {f"http://{basic_registry.host}": {"auth": token}}}))
    push_raw_auth(basic_registry, "from/docker")
    assert "from/docker" in kratenv.ok("search", f"{basic_registry.host}/docker").stdout
    err = kratenv.fails("login", "-u", "x", "--password-stdin", "127.0.0.1:1", input="pw\n")
    assert "cannot connect to registry 127.0.0.1:1" in err
