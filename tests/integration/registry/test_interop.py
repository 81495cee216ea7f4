"""Interop with real peers through a real registry: skopeo, podman (and docker, via tests/peers.py)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

import pytest

from support import require_binary

pytestmark = [pytest.mark.interop, pytest.mark.root]
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def images_of(krat):
    from krat.engine.config import Paths
    from krat.engine.images import ImageService

    return ImageService(Paths(str(krat.root), str(krat.runroot)))


@pytest.fixture
def podman(tmp_path: Path):
    """podman with a private store and a containers.conf that works on this machine."""
    binary = require_binary("podman")
    conf = tmp_path / "containers.conf"
    (tmp_path / "podman-networks").mkdir()
    conf.write_text('[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n'
                    'cgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                    f'[network]\nnetwork_config_dir = "{tmp_path / "podman-networks"}"\n')
    import shutil
    import tempfile

    import podman_net

    host_net, cni_state = podman_net.snapshot(), podman_net.cni_state()

    runroot = tempfile.mkdtemp(prefix="krat-pm-", dir="/tmp")  # podman wants a runroot under 50 chars
    base = [binary, "--root", str(tmp_path / "podman-root"), "--runroot", runroot,
            "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    env = dict(os.environ, CONTAINERS_CONF=str(conf))

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*base, *args], env=env, capture_output=True, text=True, timeout=180)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {proc.stderr}")
        return proc

    yield run
    run("rm", "-af", check=False)
    run("rmi", "-af", check=False)
    podman_net.remove_podman_leftovers(host_net)  # what its network backend left on the host
    podman_net.remove_cni_state(cni_state, tmp_path / "podman-networks")
    for mnt in (tmp_path / "podman-root" / "overlay", Path(runroot)):
        subprocess.run(["umount", "-R", str(mnt)], capture_output=True)
    shutil.rmtree(runroot, ignore_errors=True)


def skopeo(*args: str) -> str:
    binary = require_binary("skopeo")
    proc = subprocess.run([binary, "--insecure-policy", *args], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def pushed(registry, kratenv, busybox_tar):
    """A busybox image built by krat and pushed by krat."""
    name = f"{registry.host}/krat/busybox:v1"
    images_of(kratenv).create_image({"architecture": HOST_ARCH, "os": "linux", "config": {"Cmd": ["/bin/sh"]}},
                                    [busybox_tar], tags=[name])
    out = kratenv.ok("push", name).stdout
    return name, out.split("digest: ")[1].split()[0]


def test_skopeo_reads_what_krat_pushed(pushed, tmp_path):
    name, digest = pushed
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{name}")
    import hashlib

    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == digest
    # skopeo copy verifies every blob digest on the way
    skopeo("copy", "--src-tls-verify=false", f"docker://{name}", f"oci:{tmp_path / 'oci'}:v1")
    index = json.loads((tmp_path / "oci" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest


def test_podman_pulls_and_runs_what_krat_pushed(pushed, podman):
    name, digest = pushed
    podman("pull", "--tls-verify=false", name)
    out = podman("run", "--rm", "--network", "none", name, "/bin/busybox", "echo", "from-krat").stdout
    assert out.strip() == "from-krat"
    assert digest in podman("image", "inspect", "--format", "{{.Digest}}", name).stdout


def test_krat_pulls_what_podman_pushed(registry, kratenv, podman, busybox_tar):
    name = f"{registry.host}/podman/busybox:v1"
    podman("import", str(busybox_tar), name)
    podman("push", "--tls-verify=false", name)
    kratenv.ok("pull", name)
    image = images_of(kratenv).resolve(name)
    assert os.path.exists(os.path.join(image.layer_dirs[0], "bin", "busybox"))
    out = kratenv.ok("run", "--rm", "--network", "none", name, "/bin/busybox", "echo", "from-podman").stdout
    assert out.strip() == "from-podman"
    # the same image again, converted by skopeo to Docker schema 2 media types
    docker_name = f"{registry.host}/skopeo/busybox:v2s2"
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--format", "v2s2",
           f"docker://{name}", f"docker://{docker_name}")
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{docker_name}")
    assert json.loads(raw)["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    out = kratenv.ok("pull", docker_name).stdout
    converted = images_of(kratenv).resolve(docker_name)
    # same config, so the same image; the Docker-typed manifest is remembered as a repo digest
    assert converted.id == image.id and converted.diff_ids == image.diff_ids
    digest = out.split("Digest: ")[1].split()[0]
    assert any(d.endswith(f"skopeo/busybox@{digest}") for d in converted.repo_digests)


def test_docker_pulls_and_runs_what_krat_pushed(pushed, dockerd_peer):
    name, digest = pushed
    dockerd_peer.ok("pull", name)  # dockerd trusts 127.0.0.0/8 over plain HTTP by default
    out = dockerd_peer.text("run", "--rm", "--network", "none", name, "/bin/busybox", "echo", "from-krat")
    assert out.strip() == "from-krat"
    assert digest in dockerd_peer.text("image", "inspect", "--format", "{{json .RepoDigests}}", name)


def test_krat_pulls_and_runs_what_docker_pushed(registry, kratenv, dockerd_peer, busybox_tar):
    name = f"{registry.host}/docker/busybox:v1"
    dockerd_peer.ok("import", str(busybox_tar), name)
    dockerd_peer.ok("push", name)
    out = kratenv.ok("run", "--rm", "--network", "none", name, "/bin/busybox", "echo", "from-docker")
    assert out.stdout.strip() == "from-docker"
    image = images_of(kratenv).resolve(name)
    assert os.path.exists(os.path.join(image.layer_dirs[0], "bin", "busybox"))
