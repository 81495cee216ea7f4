"""`krat pull` / `krat push` through the CLI against a real docker-registry on loopback."""

from __future__ import annotations

import json
import os
import platform
import shutil

import pytest

from regsupport import push_raw, store_state
from krat.engine.config import Paths
from regimages import make_image, sha

pytestmark = pytest.mark.interop
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def images_of(krat):
    from krat.engine.images import ImageService

    return ImageService(Paths(str(krat.root), str(krat.runroot)))


def test_build_push_rmi_pull_round_trip(registry, kratenv, busybox_tar):
    name = f"{registry.host}/krat/busybox:v1"
    created = images_of(kratenv).create_image(
        {"architecture": HOST_ARCH, "os": "linux", "config": {"Cmd": ["/bin/sh"]}}, [busybox_tar], tags=[name])
    out = kratenv.ok("push", name).stdout
    assert f"The push refers to repository [{registry.host}/krat/busybox]" in out
    assert "Pushed" in out and "v1: digest: sha256:" in out
    pushed_digest = out.split("digest: ")[1].split()[0]
    assert f"{registry.host}/krat/busybox@{pushed_digest}" in images_of(kratenv).resolve(name).repo_digests
    kratenv.ok("rmi", name)
    assert not images_of(kratenv).exists(name)
    out = kratenv.ok("pull", name).stdout
    assert f"Digest: {pushed_digest}" in out and "Downloaded newer image" in out
    assert out.strip().splitlines()[-1] == name
    pulled = images_of(kratenv).resolve(name)
    assert pulled.id == created.id and pulled.diff_ids == created.diff_ids
    assert pulled.manifest_digest == pushed_digest  # the compressed manifest is what we pulled
    assert os.path.exists(os.path.join(pulled.layer_dirs[0], "bin", "busybox"))
    # a second push sends nothing new; a second pull downloads nothing
    assert "Layer already exists" in kratenv.ok("push", name).stdout
    assert "Image is up to date" in kratenv.ok("pull", name).stdout


def test_pull_by_tag_digest_and_all_tags(registry, kratenv):
    img = make_image((2000, 300_000))
    push_raw(registry.host, "lib/app", img, "v1")
    push_raw(registry.host, "lib/app", make_image((100,)), "v2")
    ref = f"{registry.host}/lib/app@{img.manifest.digest}"
    assert kratenv.ok("pull", "-q", ref).stdout.strip() == ref
    pulled = images_of(kratenv).resolve(ref)
    assert pulled.manifest_digest == str(img.manifest.digest)
    assert pulled.diff_ids == img.diff_ids and pulled.repo_tags == []
    out = kratenv.ok("pull", "--all-tags", f"{registry.host}/lib/app").stdout
    assert out.count("Digest: sha256:") == 2
    assert images_of(kratenv).resolve(f"{registry.host}/lib/app:v1").id == pulled.id
    assert images_of(kratenv).exists(f"{registry.host}/lib/app:v2")
    assert "tag can't be used with --all-tags" in kratenv.fails("pull", "-a", f"{registry.host}/lib/app:v1")


def test_multi_arch_index_picks_this_machine(registry, kratenv):
    from krat.registry.media import OCI_INDEX, Manifest

    other = "arm64" if HOST_ARCH == "amd64" else "amd64"
    mine, theirs = make_image((1000,), arch=HOST_ARCH), make_image((1000,), arch=other)
    push_raw(registry.host, "multi/app", mine, "mine")
    push_raw(registry.host, "multi/app", theirs, "theirs")
    entries = [{"mediaType": i.manifest.media_type, "digest": str(i.manifest.digest), "size": len(i.manifest.raw),
                "platform": {"os": "linux", "architecture": a, **({"variant": "v8"} if a == "arm64" else {})}}
               for i, a in ((theirs, other), (mine, HOST_ARCH))]
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    index = Manifest(OCI_INDEX, sha(raw), raw)
    from krat.registry.client import RegistryClient
    from krat.registry.hosts import RegistriesConfig, endpoint_for

    with RegistryClient(endpoint_for(registry.host, RegistriesConfig())) as client:
        client.put_manifest("multi/app", "latest", index, what="index")
    out = kratenv.ok("pull", f"{registry.host}/multi/app").stdout
    assert f"Digest: {index.digest}" in out
    image = images_of(kratenv).resolve(f"{registry.host}/multi/app")
    assert image.manifest_digest == str(mine.manifest.digest) and image.architecture == HOST_ARCH
    assert f"{registry.host}/multi/app@{index.digest}" in image.repo_digests
    kratenv.ok("pull", "--platform", f"linux/{other}", f"{registry.host}/multi/app:latest")
    assert images_of(kratenv).resolve(f"{registry.host}/multi/app").manifest_digest == str(theirs.manifest.digest)
    err = kratenv.fails("pull", "--platform", "linux/s390x", f"{registry.host}/multi/app")
    assert "no image for platform linux/s390x" in err


def test_push_mounts_layers_shared_with_another_repository(registry, kratenv, busybox_tar, tmp_path):
    images = images_of(kratenv)
    base_name = f"{registry.host}/team/base:1"
    base = images.create_image({"architecture": HOST_ARCH, "os": "linux"}, [busybox_tar], tags=[base_name])
    extra = tmp_path / "extra.tar"
    import tarfile, io
    with tarfile.open(extra, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    app_name = f"{registry.host}/team/app:1"
    images.create_image({"architecture": HOST_ARCH, "os": "linux"}, [extra], tags=[app_name], base=base)
    kratenv.ok("push", base_name)
    before = len(registry.requests())
    out = kratenv.ok("push", app_name).stdout
    assert "Mounted from team/base" in out
    uploads = [r for r in registry.requests()[before:] if r[0] == "PUT" and "/blobs/uploads/" in r[1]]
    mounts = [r for r in registry.requests()[before:] if r[0] == "POST" and "mount=" in r[1] and r[2] == 201]
    assert len(mounts) == 1 and len(uploads) == 2  # the new layer and the config; the busybox layer mounted


def test_push_to_another_name_and_tls_with_certs_d(tls_registry, kratenv, private_config, busybox_tar):
    images_of(kratenv).create_image({"architecture": HOST_ARCH, "os": "linux"}, [busybox_tar], tags=["local/bb:1"])
    dest = f"{tls_registry.host}/secure/bb:1"
    err = kratenv.fails("push", "local/bb:1", dest)
    assert "cannot verify the TLS certificate" in err
    certs = private_config / ".config" / "krat" / "certs.d" / tls_registry.host
    certs.mkdir(parents=True)
    shutil.copy(tls_registry.ca, certs / "ca.crt")
    kratenv.ok("push", "local/bb:1", dest)
    shutil.rmtree(certs)
    kratenv.ok("pull", "--tls-verify=false", dest)
    assert images_of(kratenv).exists(dest)


def test_ensure_image_pull_policies(registry, kratenv):
    from krat.engine.registries import ensure_image
    from krat.errors import InvalidArgument, NotFound

    paths = Paths(str(kratenv.root), str(kratenv.runroot))
    img = make_image((1000,))
    push_raw(registry.host, "policy/app", img)
    name = f"{registry.host}/policy/app:v1"
    with pytest.raises(NotFound, match="No such image"):
        ensure_image(paths, name, "never")
    assert ensure_image(paths, name, "missing").manifest_digest == str(img.manifest.digest)
    gets = lambda: len([r for r in registry.requests() if "/manifests/" in r[1]])
    before = gets()
    ensure_image(paths, name, "missing")
    ensure_image(paths, name, "never")
    assert gets() == before  # present: no registry traffic
    ensure_image(paths, name, "always")
    assert gets() == before + 1
    with pytest.raises(InvalidArgument, match="invalid pull policy"):
        ensure_image(paths, name, "sometimes")
