"""Images cross between krat, Docker and Podman through save/load with the same layers.

Each peer is private (tests/peers.py): its own dockerd (data root, socket) or podman root.
"""

import json

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

CHANGE = "sh -c 'echo hello > /hello && rm /bin/ls'"


def krat_inspect(krat, ref):
    return json.loads(krat.ok("image", "inspect", ref).stdout)[0]


def peer_inspect(peer, ref):
    return json.loads(peer.text("image", "inspect", ref))[0]


@pytest.mark.parametrize("peer_name", ["dockerd_peer", "podman_peer"])
def test_krat_image_loads_and_runs_in_peer(request, krat, busybox_image, tmp_path, peer_name):
    peer = request.getfixturevalue(peer_name)
    archive = tmp_path / "busybox.tar"
    krat.ok("tag", "busybox", "krat-interop/box:1")
    krat.ok("save", "-o", str(archive), "krat-interop/box:1")
    peer.ok("load", "-i", str(archive))
    theirs = peer_inspect(peer, "docker.io/krat-interop/box:1")
    ours = krat_inspect(krat, "krat-interop/box:1")
    assert theirs["RootFS"]["Layers"] == ours["RootFS"]["Layers"]
    assert theirs["Id"].removeprefix("sha256:") == ours["Id"].removeprefix("sha256:")
    assert theirs["Config"]["Cmd"] == ["sh"]
    out = peer.text("run", "--rm", "--network", "none", "docker.io/krat-interop/box:1", "sh", "-c", "echo hi from $0")
    assert out.strip() == "hi from sh"
    peer.ok("rmi", "docker.io/krat-interop/box:1")


def _derived_in_peer(peer, krat, tmp_path, name):
    """busybox from krat, changed by a container in the peer and committed there."""
    archive = tmp_path / "base.tar"
    krat.ok("save", "-o", str(archive), "busybox")
    peer.ok("load", "-i", str(archive))
    container = f"krat-interop-{name}"
    peer.ok("run", "--name", container, "--network", "none", "docker.io/library/busybox:latest", "sh", "-c",
            "echo hello > /hello && rm /bin/ls")
    peer.ok("commit", "--change", "ENV GREETING=hi", "--change", 'CMD ["cat", "/hello"]', container, f"{name}:derived")
    peer.ok("rm", container)


@pytest.mark.parametrize("peer_name, fmt", [("dockerd_peer", None), ("podman_peer", "docker-archive"),
                                            ("podman_peer", "oci-archive")])
def test_peer_saved_image_loads_into_krat(request, krat, busybox_image, tmp_path, peer_name, fmt):
    peer = request.getfixturevalue(peer_name)
    name = f"fromp{peer_name[:2]}{(fmt or 'd')[:3]}"
    _derived_in_peer(peer, krat, tmp_path, name)
    archive = tmp_path / "derived.tar"
    ref = f"docker.io/library/{name}:derived" if peer_name == "dockerd_peer" else f"localhost/{name}:derived"
    peer.ok("save", *(["--format", fmt] if fmt else []), "-o", str(archive), ref)
    out = krat.ok("load", "-i", str(archive)).stdout
    assert "Loaded image" in out
    theirs = peer_inspect(peer, ref)
    loaded = [line.split(": ", 1)[1] for line in out.splitlines()]
    ours = krat_inspect(krat, loaded[0].removeprefix("Loaded image ID: ").strip() if "ID" in out else loaded[0])
    assert ours["RootFS"]["Layers"] == theirs["RootFS"]["Layers"]
    assert len(ours["RootFS"]["Layers"]) == 2
    assert ours["Id"].removeprefix("sha256:") == theirs["Id"].removeprefix("sha256:")
    assert "GREETING=hi" in ours["Config"]["Env"] and ours["Config"]["Cmd"] == ["cat", "/hello"]
    # the peer's whiteout for /bin/ls is an overlay whiteout in krat's layer dir
    top = krat.root / "layers" / ours["RootFS"]["Layers"][1].removeprefix("sha256:") / "diff"
    assert (top / "hello").read_text() == "hello\n"
    assert (top / "bin" / "ls").is_char_device()
    peer.ok("rmi", ref)
