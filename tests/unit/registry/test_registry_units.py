"""Pure parts of the registry client: platforms, challenges, endpoints, credentials, retries."""

from __future__ import annotations

import json
import os
import stat

import httpx
import pytest

from krat.errors import InvalidArgument, NotFound, PermissionDenied
from krat.oci.digest import Digest
from krat.registry import credentials
from krat.registry.auth import Authenticator, Credentials, parse_challenges
from krat.registry.client import RegistryClient, retry_after
from krat.registry.hosts import RegistriesConfig, endpoint_for, is_loopback, parse_config
from krat.registry.media import Descriptor, Platform
from krat.registry.platforms import parse_platform, select

D = Digest("sha256", "a" * 64)


def desc(plat: Platform | None, n: int) -> Descriptor:
    return Descriptor("application/vnd.oci.image.manifest.v1+json", Digest("sha256", f"{n:064x}"), 1, plat)


def test_platform_selection_prefers_exact_variant_and_skips_attestations():
    children = [desc(Platform("unknown", "unknown"), 0), desc(Platform("linux", "arm", "v6"), 1),
                desc(Platform("linux", "arm", "v7"), 2), desc(Platform("linux", "amd64"), 3),
                desc(Platform("linux", "arm64"), 4)]
    assert select(children, Platform("linux", "amd64")).digest == children[3].digest
    assert select(children, Platform("linux", "arm64", "v8")).digest == children[4].digest
    assert select(children, parse_platform("linux/arm/v7")).digest == children[2].digest
    assert select(children, parse_platform("linux/arm")).digest == children[2].digest
    with pytest.raises(NotFound, match="linux/s390x.*linux/amd64"):
        select(children, Platform("linux", "s390x"))


def test_parse_platform():
    assert parse_platform("linux/x86_64") == Platform("linux", "amd64")
    assert parse_platform("arm64") == Platform("linux", "arm64")
    with pytest.raises(InvalidArgument):
        parse_platform("linux/")


def test_challenge_parsing():
    [bearer, basic] = parse_challenges('Bearer realm="https://a/token",service="reg",'
                                       'scope="repository:x:pull,push", Basic realm="r"')
    assert bearer.scheme == "bearer" and bearer.params["scope"] == "repository:x:pull,push"
    assert basic.params == {"realm": "r"}


def test_bearer_tokens_are_cached_per_scope():
    calls = []

    def fetch(realm, params, authz):
        calls.append((realm, params, authz))
        return {"token": f"t{len(calls)}", "expires_in": 300}

    auth = Authenticator("h", Credentials("u", "p"), fetch)
    auth.learn('Bearer realm="http://t/token",service="svc"')
    assert auth.header(("repository:a:pull",)) == "Bearer t1"
    assert auth.header(("repository:a:pull",)) == "Bearer t1"
    assert auth.header(("repository:b:pull",)) == "Bearer t2"
    assert calls[0][1] == {"service": "svc", "scope": ["repository:a:pull"], "account": "u"}
    assert calls[0][2].startswith("Basic ")


def test_endpoints_tls_by_default_http_only_for_loopback_or_insecure():
    conf = parse_config({"registry": [{"location": "reg.example:5000", "insecure": True}]}, "test")
    assert endpoint_for("ghcr.io", conf).schemes == ("https",)
    local = endpoint_for("127.0.0.1:5000", conf)
    assert local.schemes == ("https", "http") and local.verify and local.http_only_if_not_tls
    insecure = endpoint_for("reg.example:5000", conf)
    assert insecure.schemes == ("https", "http") and not insecure.verify
    assert not endpoint_for("reg.example:5000", conf, tls_verify=True).schemes == ("https", "http")
    assert is_loopback("localhost:5000") and is_loopback("127.1.2.3") and is_loopback("[::1]:5000")
    assert not is_loopback("10.0.0.1:5000")


def test_retry_after():
    assert retry_after("2", 0) == 2.0
    assert retry_after(None, 1) == 2.0
    assert retry_after("100000", 0) == 30.0


def test_credentials_file_docker_format_and_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps(
        {"auths": {"https://index.docker.io/v1/": {"auth": "ZG9jOmh1Yg=="}}}))
    assert credentials.lookup("docker.io") == Credentials("doc", "hub")
    assert credentials.lookup("127.0.0.1:5000") is None
    credentials.store("127.0.0.1:5000", Credentials("me", "pw:with:colons"))
    path = tmp_path / "auth.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "127.0.0.1:5000" in json.loads(path.read_text())["auths"]
    assert credentials.lookup("http://127.0.0.1:5000/v2/") == Credentials("me", "pw:with:colons")
    assert credentials.remove("127.0.0.1:5000") and not credentials.remove("127.0.0.1:5000")
    assert credentials.lookup("127.0.0.1:5000") is None


def _client(handler) -> RegistryClient:
    conf = RegistriesConfig()
    client = RegistryClient(endpoint_for("reg.test", conf), None, transport=httpx.MockTransport(handler),
                            sleep=lambda s: waits.append(s))
    return client


waits: list[float] = []


def test_429_waits_for_retry_after_then_succeeds():
    waits.clear()
    hits = []

    def handler(request):
        if request.url.path == "/v2/":
            return httpx.Response(200)
        hits.append(request.url.path)
        if len(hits) < 3:
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(200, json={"tags": ["a"]})

    assert _client(handler).tags("x", what="tags") == ["a"]
    assert waits == [1.0, 1.0]


def test_401_with_bad_credentials_is_one_clear_error():
    def handler(request):
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'},
                              json={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})

    client = _client(handler)
    client.auth.credentials = Credentials("u", "bad")
    with pytest.raises(PermissionDenied, match="x:1: unauthorized: incorrect username or password"):
        client.get_manifest("x", "1", what="x:1")


def test_credential_helper_is_asked(tmp_path, monkeypatch):
    helper = tmp_path / "bin" / "docker-credential-kratfake"
    helper.parent.mkdir()
    helper.write_text('#!/bin/sh\nread server\necho "{\\"Username\\": \\"helper-user\\", \\"Secret\\": \\"s-$server\\"}"\n')
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"credHelpers": {"reg.example:5000": "kratfake"}}))
    assert credentials.lookup("reg.example:5000") == Credentials("helper-user", "s-reg.example:5000")
    assert credentials.lookup("other.example") is None


def test_search_of_docker_hub_is_a_clear_error():
    from krat.engine.registries import search

    with pytest.raises(InvalidArgument, match="Docker Hub does not offer"):
        search("busybox")


def test_short_names_follow_the_search_list(tmp_path, monkeypatch):
    from krat.engine.registries import candidates, registry_host

    monkeypatch.delenv("KRAT_REGISTRIES_CONF", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert [str(r) for r in candidates("busybox")] == ["docker.io/library/busybox:latest"]
    conf = tmp_path / "r.conf"
    conf.write_text('unqualified-search-registries = ["quay.example", "docker.io"]\n')
    monkeypatch.setenv("KRAT_REGISTRIES_CONF", str(conf))
    assert [str(r) for r in candidates("busybox:1")] == ["quay.example/busybox:1", "docker.io/library/busybox:1"]
    assert [str(r) for r in candidates("localhost:5000/a")] == ["localhost:5000/a:latest"]
    assert registry_host(None) == "docker.io"
    assert registry_host("https://index.docker.io/v1/") == "docker.io"
    assert registry_host("http://127.0.0.1:5000/v2/") == "127.0.0.1:5000"
    with pytest.raises(InvalidArgument):
        registry_host("bad host@x")


def test_registries_conf_errors_name_the_file(tmp_path):
    from krat.registry.hosts import load_config

    bad = tmp_path / "registries.conf"
    bad.write_text("[[registry]]\ninsecure = true\n")
    with pytest.raises(InvalidArgument, match="registries.conf: every \\[\\[registry\\]\\] needs a location"):
        load_config(bad)
    bad.write_text("this is = = not toml")
    with pytest.raises(InvalidArgument, match=str(bad)):
        load_config(bad)
