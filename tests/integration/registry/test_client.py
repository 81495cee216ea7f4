"""The Distribution client against a real docker-registry: uploads, downloads, mounts, TLS, auth."""

from __future__ import annotations

import io
import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from krat.errors import NotFound, PermissionDenied, Unavailable
from krat.registry import blobs
from krat.registry.auth import Credentials
from krat.registry.client import RegistryClient
from krat.registry.hosts import RegistriesConfig, endpoint_for
from regimages import make_image

pytestmark = pytest.mark.interop
CONFIG = RegistriesConfig()


def client_for(host: str, creds: Credentials | None = None, **kwargs) -> RegistryClient:
    return RegistryClient(endpoint_for(host, CONFIG, **kwargs), creds)


def push_image(client: RegistryClient, repo: str, img, tag: str = "v1", **kwargs) -> list[blobs.Pushed]:
    results = []
    for desc, data in img.blobs():
        results.append(blobs.upload(client, repo, desc, lambda data=data: io.BytesIO(data), **kwargs))
    client.put_manifest(repo, tag, img.manifest, what=f"{repo}:{tag}")
    return results


def pull_and_compare(client: RegistryClient, repo: str, ref: str, img) -> None:
    manifest = client.get_manifest(repo, ref, what=f"{repo}:{ref}")
    assert manifest.digest == img.manifest.digest and manifest.raw == img.manifest.raw
    for desc, data in img.blobs():
        out = io.BytesIO()
        blobs.download(client, repo, desc, out)
        assert out.getvalue() == data


def test_plain_http_round_trip_monolithic_and_chunked(registry):
    img = make_image((3000, 70_000))
    with client_for(registry.host) as client:
        assert client.ping() == f"http://{registry.host}"
        assert push_image(client, "krat/mono", img) == [blobs.Pushed.UPLOADED] * 3
        assert push_image(client, "krat/mono", img, tag="v2") == [blobs.Pushed.EXISTS] * 3
        pull_and_compare(client, "krat/mono", "v1", img)
        pull_and_compare(client, "krat/mono", str(img.manifest.digest), img)
        other = make_image((200_000,))
        assert push_image(client, "krat/chunked", other, chunk_size=64 * 1024) == [blobs.Pushed.UPLOADED] * 2
        pull_and_compare(client, "krat/chunked", "v1", other)
        assert sorted(client.tags("krat/mono", what="tags")) == ["v1", "v2"]
        assert sorted(client.catalog(what="catalog")) == ["krat/chunked", "krat/mono"]
    patches = [r for r in registry.requests() if r[0] == "PATCH"]
    assert len(patches) >= 4  # 200 kB in 64 kB chunks went up as several PATCH requests
    # What the registry holds is what was pushed, as a plain HTTP client sees it.
    req = urllib.request.Request(f"{registry.url}/v2/krat/mono/manifests/v1",
                                 headers={"Accept": img.manifest.media_type})
    with urllib.request.urlopen(req) as resp:
        assert resp.read() == img.manifest.raw


def test_cross_repository_mount_does_not_upload_again(registry):
    base = make_image((50_000, 60_000))
    derived = make_image((1000,), shared=base.pairs)
    with client_for(registry.host) as client:
        push_image(client, "team/base", base)
        before = len(registry.requests())
        results = push_image(client, "team/app", derived, mount_from=("team/base",))
    # config and the new layer are uploaded; the two base layers are mounted
    assert results.count(blobs.Pushed.MOUNTED) == 2 and results.count(blobs.Pushed.UPLOADED) == 2
    uploads = [r for r in registry.requests()[before:] if r[0] in ("PUT", "PATCH") and "/blobs/uploads/" in r[1]]
    assert len(uploads) == 2  # one PUT per uploaded blob, none for the mounted ones


def test_manifest_unknown_is_not_found(registry):
    with client_for(registry.host) as client:
        with pytest.raises(NotFound, match="manifest unknown"):
            client.get_manifest("nothing/here", "latest", what="manifest for nothing/here:latest")


def test_tls_needs_the_registry_ca_in_certs_d(tls_registry, private_config):
    img = make_image((1000,))
    with client_for(tls_registry.host) as client:
        with pytest.raises(Unavailable, match="cannot verify the TLS certificate"):
            client.ping()
    certs = private_config / ".config" / "krat" / "certs.d" / tls_registry.host
    certs.mkdir(parents=True)
    shutil.copy(tls_registry.ca, certs / "ca.crt")
    with client_for(tls_registry.host) as client:
        assert client.ping() == f"https://{tls_registry.host}"
        push_image(client, "secure/app", img)
        pull_and_compare(client, "secure/app", "v1", img)
    # --tls-verify=false style: no CA needed
    shutil.rmtree(certs)
    with client_for(tls_registry.host, tls_verify=False) as client:
        pull_and_compare(client, "secure/app", "v1", img)


def test_basic_auth(basic_registry):
    from regsupport import PASSWORD, USER

    img = make_image((1000,))
    with client_for(basic_registry.host) as client:
        with pytest.raises(PermissionDenied, match="unauthorized"):
            client.get_manifest("a/b", "v1", what="a/b:v1")
    with client_for(basic_registry.host, Credentials(USER, "wrong")) as client:
        with pytest.raises(PermissionDenied, match="incorrect username or password"):
            client.check_login()
    with client_for(basic_registry.host, Credentials(USER, PASSWORD)) as client:
        client.check_login()
        push_image(client, "a/b", img)
        pull_and_compare(client, "a/b", "v1", img)


def test_bearer_token_flow_with_scopes(token_registry):
    from regsupport import PASSWORD, USER

    base = make_image((2000,))
    derived = make_image((1000,), shared=base.pairs)
    tokens = token_registry.tokens
    with client_for(token_registry.host, Credentials(USER, "wrong")) as client:
        with pytest.raises(PermissionDenied, match="incorrect username or password"):
            client.check_login()
    with client_for(token_registry.host, Credentials(USER, PASSWORD)) as client:
        client.check_login()
        push_image(client, "org/base", base)
        results = push_image(client, "org/app", derived, mount_from=("org/base",))
        assert blobs.Pushed.MOUNTED in results
        pull_and_compare(client, "org/app", "v1", derived)
    granted = [(a["name"], tuple(a["actions"])) for t in tokens.issued for a in t["access"]]
    assert ("org/app", ("pull", "push")) in granted and ("org/base", ("pull",)) in granted
    assert all(t["service"] == tokens.service and t["user"] == USER for t in tokens.issued)
    # tokens are cached per scope: far fewer token requests than registry requests
    assert len(tokens.issued) < len(token_registry.requests()) / 2
    with client_for(token_registry.host) as anonymous:
        with pytest.raises(PermissionDenied):
            anonymous.get_manifest("org/app", "v1", what="org/app:v1")
