"""registries.conf: mirrors, unqualified-search registries, insecure registries; push errors."""

from __future__ import annotations

import platform

import pytest

from regimages import make_image
from regsupport import push_raw

pytestmark = pytest.mark.interop
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def conf(kratenv, tmp_path, text: str) -> None:
    path = tmp_path / "krat-registries.conf"
    path.write_text(text)
    kratenv.env["KRAT_REGISTRIES_CONF"] = str(path)


def test_mirror_serves_a_registry_that_is_never_contacted(registry, kratenv, tmp_path):
    img = make_image((1000,))
    push_raw(registry.host, "lib/app", img)
    # 127.0.0.2:1 is loopback but nothing listens there: only the mirror can answer
    conf(kratenv, tmp_path, f'[[registry]]\nlocation = "127.0.0.2:1"\n[[registry.mirror]]\nlocation = "{registry.host}"\n')
    out = kratenv.ok("pull", "127.0.0.2:1/lib/app:v1").stdout
    assert f"Digest: {img.manifest.digest}" in out
    from krat.engine.config import Paths
    from krat.engine.images import ImageService

    assert ImageService(Paths(str(kratenv.root), str(kratenv.runroot))).exists("127.0.0.2:1/lib/app:v1")


def test_unqualified_search_registries(registry, kratenv, tmp_path):
    push_raw(registry.host, "team/tool", make_image((1000,)))
    conf(kratenv, tmp_path, f'unqualified-search-registries = ["{registry.host}"]\n')
    out = kratenv.ok("pull", "team/tool:v1").stdout
    assert out.strip().splitlines()[-1] == f"{registry.host}/team/tool:v1"


def test_insecure_registry_in_config_skips_tls_verification(tls_registry, kratenv, tmp_path):
    push_raw_tls = make_image((1000,))
    from krat.registry import blobs
    from krat.registry.client import RegistryClient
    from krat.registry.hosts import RegistriesConfig, endpoint_for
    import io

    with RegistryClient(endpoint_for(tls_registry.host, RegistriesConfig(), tls_verify=False)) as client:
        for desc, data in push_raw_tls.blobs():
            blobs.upload(client, "sec/app", desc, lambda data=data: io.BytesIO(data))
        client.put_manifest("sec/app", "v1", push_raw_tls.manifest, what="sec/app")
    assert "cannot verify the TLS certificate" in kratenv.fails("pull", f"{tls_registry.host}/sec/app:v1")
    conf(kratenv, tmp_path, f'[[registry]]\nlocation = "{tls_registry.host}"\ninsecure = true\n')
    kratenv.ok("pull", f"{tls_registry.host}/sec/app:v1")


def test_push_errors_are_one_line(registry, basic_registry, kratenv, busybox_tar):
    from krat.engine.config import Paths
    from krat.engine.images import ImageService

    images = ImageService(Paths(str(kratenv.root), str(kratenv.runroot)))
    images.create_image({"architecture": HOST_ARCH, "os": "linux"}, [busybox_tar], tags=["local/x:1"])
    cases = [
        (["push", "local/nothing:1", f"{registry.host}/a:1"], "No such image"),
        (["push", "local/x:1", "127.0.0.1:1/a:1"], "cannot connect to registry 127.0.0.1:1"),
        (["push", "local/x:1", f"{basic_registry.host}/a:1"], "unauthorized"),
        (["push", "local/x:1", f"{registry.host}/a@sha256:{'a' * 64}"], "cannot push to a digest"),
        (["push", "local/x:1", "Bad/Name"], "invalid reference format"),
    ]
    for argv, needle in cases:
        err = kratenv.fails(*argv)
        assert needle in err and len(err.splitlines()) == 1, err
    assert [r for r in basic_registry.requests() if r[0] in ("PUT", "PATCH")] == []
