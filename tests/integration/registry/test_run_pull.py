"""`krat run --pull`: build -> push -> rmi -> run pulls the image back and runs it."""

from __future__ import annotations

import platform

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def test_run_pulls_missing_image_and_honours_policies(registry, kratenv, busybox_tar):
    from krat.engine.config import Paths
    from krat.engine.images import ImageService

    name = f"{registry.host}/krat/runme:v1"
    ImageService(Paths(str(kratenv.root), str(kratenv.runroot))).create_image(
        {"architecture": HOST_ARCH, "os": "linux", "config": {"Cmd": ["/bin/sh"]}}, [busybox_tar], tags=[name])
    kratenv.ok("push", name)
    kratenv.ok("rmi", name)
    err = kratenv.fails("run", "--rm", "--pull", "never", name, "/bin/busybox", "true")
    assert "No such image" in err
    proc = kratenv.ok("run", "--rm", "--network", "none", name, "/bin/busybox", "echo", "pulled-and-ran")
    assert proc.stdout.strip() == "pulled-and-ran"
    assert f"Unable to find image '{name}' locally" in proc.stderr
    manifests = lambda: len([r for r in registry.requests() if "/manifests/" in r[1]])
    before = manifests()
    kratenv.ok("run", "--rm", "--network", "none", name, "/bin/busybox", "true")
    assert manifests() == before  # present: missing policy does not ask the registry
    kratenv.ok("run", "--rm", "--network", "none", "--pull", "always", name, "/bin/busybox", "true")
    assert manifests() > before
    err = kratenv.fails("run", "--rm", "--pull", "sometimes", name, "true")
    assert "invalid pull policy" in err


def test_unknown_short_name_never_reaches_docker_hub(kratenv):
    err = kratenv.fails("run", "--rm", "nosuchimage-krat", "true")
    assert "No such image: nosuchimage-krat" in err and "blocked" in err and len(err.splitlines()) == 1


def test_build_push_rmi_run(registry, kratenv, busybox_tar, tmp_path):
    kratenv.ok("import", str(busybox_tar), "local/base:1")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM local/base:1\nRUN echo built-by-krat > /hello\nCMD [\"/bin/busybox\", \"cat\", \"/hello\"]\n")
    name = f"{registry.host}/krat/built:v1"
    kratenv.ok("build", "-t", name, str(ctx), timeout=300)
    kratenv.ok("push", name)
    kratenv.ok("rmi", name)
    proc = kratenv.ok("run", "--rm", "--network", "none", name)
    assert proc.stdout.strip() == "built-by-krat"
