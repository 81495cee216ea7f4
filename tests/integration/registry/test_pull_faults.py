"""Pull faults and bad input: one clear line, non-zero exit, and the store exactly as before."""

from __future__ import annotations

import pytest

from regsupport import push_raw, store_state
from faultproxy import FaultProxy
from regimages import make_image

pytestmark = pytest.mark.interop


@pytest.fixture
def proxied(registry):
    """A registry holding lib/app:v1 (three layers), reached through a fault proxy."""
    img = make_image((50_000, 400_000, 300_000))
    push_raw(registry.host, "lib/app", img)
    proxy = FaultProxy(registry.port)
    proxy.image = img
    yield proxy
    proxy.close()


@pytest.fixture
def seeded(kratenv, registry):
    """A store that already holds one image, so 'nothing changed' is checked against real state."""
    push_raw(registry.host, "lib/seed", make_image((1000,)))
    kratenv.ok("pull", "-q", f"{registry.host}/lib/seed:v1")
    return kratenv


@pytest.mark.parametrize("mode, message", [
    ("truncate", "download failed after 5 attempts"),
    ("corrupt", "digest mismatch"),
    ("corrupt-last", "digest mismatch"),
    ("kill", "registry 127.0.0.1:"),
])
def test_broken_downloads_leave_nothing(mode, message, proxied, seeded, registry):
    before = store_state(seeded.root)
    proxied.mode = mode.split("-")[0]
    if mode == "corrupt-last":  # the other layers arrive (and unpack) first; all must go again
        proxied.only = proxied.image.layers[-1][0].digest.hex
    proxied.on_kill = registry.stop
    err = seeded.fails("pull", f"{proxied.host}/lib/app:v1")
    assert message in err, err
    assert len(err.splitlines()) == 1
    if mode == "kill":
        assert "cannot connect" in err or "cannot talk" in err, err
    assert store_state(seeded.root) == before
    assert not list((seeded.root / "content" / "ingest").iterdir())


def test_interrupted_download_resumes_with_range(proxied, kratenv, registry):
    proxied.mode = "truncate"
    calls = {"n": 0}
    original = proxied._cut

    def cut_once(req, resp, data):
        calls["n"] += 1
        if calls["n"] == 1:
            return original(req, resp, data)
        proxied.mode = "pass"
        return proxied._forward(req)

    proxied._cut = cut_once
    kratenv.ok("pull", f"{proxied.host}/lib/app:v1")
    ranges = [r for r in registry.requests() if r[0] == "GET" and r[2] == 206]
    assert ranges, "the second request should have asked for the rest with Range"


def test_429_with_retry_after_is_retried(proxied, kratenv):
    proxied.mode = "429"
    proxied.limit_429 = 2
    kratenv.ok("pull", f"{proxied.host}/lib/app:v1")
    assert proxied.limit_429 == 0


def test_429_forever_gives_up_clearly(proxied, kratenv):
    proxied.mode = "429"
    proxied.limit_429 = 100
    err = kratenv.fails("pull", f"{proxied.host}/lib/app:v1")
    assert "too many requests" in err


@pytest.mark.parametrize("ref, message", [
    ("UPPER/case", "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("nosuchhost.invalid/x:1", "cannot resolve registry host nosuchhost.invalid"),
    ("127.0.0.1:1/x:1", "cannot connect to registry 127.0.0.1:1"),
])
def test_bad_references_and_unreachable_registries(ref, message, kratenv):
    before = store_state(kratenv.root)
    err = kratenv.fails("pull", ref)
    assert message in err and len(err.splitlines()) == 1
    assert store_state(kratenv.root) == before


def test_manifest_unknown_and_unauthorized(registry, basic_registry, seeded):
    before = store_state(seeded.root)
    err = seeded.fails("pull", f"{registry.host}/lib/nothing:v9")
    assert f"manifest for {registry.host}/lib/nothing:v9" in err and "manifest unknown" in err
    err = seeded.fails("pull", f"{basic_registry.host}/lib/app:v1")
    assert "unauthorized" in err and len(err.splitlines()) == 1
    err = seeded.fails("pull", "--creds", "kratuser:wrong", f"{basic_registry.host}/lib/app:v1")
    assert "incorrect username or password" in err
    assert store_state(seeded.root) == before


def test_plain_http_registry_needs_insecure_unless_loopback(registry, kratenv, tmp_path):
    """--tls-verify=true makes a loopback registry TLS-only, as any other: a plain-HTTP one
    then fails with a hint; by default loopback may use plain HTTP."""
    push_raw(registry.host, "lib/app", make_image((100,)))
    err = kratenv.fails("pull", "--tls-verify=true", f"{registry.host}/lib/app:v1")
    assert "does not speak TLS" in err and len(err.splitlines()) == 1
    kratenv.ok("pull", f"{registry.host}/lib/app:v1")
