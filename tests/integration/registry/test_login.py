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


def test_anonymous_pull_with_bearer_tokens_like_docker_hub(token_registry, kratenv, busybox_tar):
    """Public images: an anonymous token grants pull only; pushing needs a login."""
    from krat.engine.config import Paths
    from krat.engine.images import ImageService

    token_registry.tokens.anonymous_pull = True
    img = make_image((1000,))
    from krat.registry.auth import Credentials

    push_raw(token_registry.host, "public/app", img, creds=Credentials(USER, PASSWORD))
    kratenv.ok("pull", f"{token_registry.host}/public/app:v1")
    anonymous = [t for t in token_registry.tokens.issued if t["user"] is None]
    assert anonymous and all(a["actions"] == ["pull"] for t in anonymous for a in t["access"])
    ImageService(Paths(str(kratenv.root), str(kratenv.runroot))).tag(f"{token_registry.host}/public/app:v1", "mine:1")
    err = kratenv.fails("push", "mine:1", f"{token_registry.host}/public/app:v2")
    assert ("unauthorized" in err or "denied" in err) and len(err.splitlines()) == 1, err
    kratenv.ok("login", "-u", USER, "--password-stdin", token_registry.host, input=PASSWORD)
    kratenv.ok("push", "mine:1", f"{token_registry.host}/public/app:v2")
