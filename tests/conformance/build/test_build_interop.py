"""A krat-built image, exported with `krat save`, loads and runs in a real Docker and Podman.

Uses the private peers of tests/peers.py (own data roots and sockets; nothing global).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.interop]

peers = pytest.importorskip("peers", reason="tests/peers.py (the store area's private peers) is not in this tree")

DOCKERFILE = """FROM busybox AS build
RUN mkdir -p /out && echo "built by krat" > /out/msg
FROM busybox
WORKDIR /app
COPY requirements.txt .
RUN echo "installed $(cat requirements.txt)" > /app/installed
COPY --from=build /out/msg /app/msg
ENV GREETING=hello
EXPOSE 5000
CMD ["sh", "-c", "cat /app/installed /app/msg; echo $GREETING from $(pwd)"]
"""
EXPECTED = "installed flask\nbuilt by krat\nhello from /app\n"


@pytest.fixture
def saved_image(krat, busybox_image, tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "requirements.txt").write_text("flask\n")
    krat.ok("build", "-q", "-t", "kratbuilt:1", str(ctx))
    archive = tmp_path / "kratbuilt.tar"
    krat.ok("save", "-o", str(archive), "kratbuilt:1")
    return archive


def test_docker_loads_and_runs_a_krat_built_image(saved_image: Path) -> None:
    with peers.Dockerd() as docker:
        docker.ok("load", "-i", str(saved_image))
        out = docker.ok("run", "--rm", "--network", "none", "kratbuilt:1").stdout
        assert (out.decode() if isinstance(out, bytes) else out) == EXPECTED
        config = docker.ok("image", "inspect", "--format", "{{json .Config.ExposedPorts}} {{.Config.WorkingDir}}",
                           "kratbuilt:1").stdout
        text = config.decode() if isinstance(config, bytes) else config
        assert text.strip() == '{"5000/tcp":{}} /app'


def test_podman_loads_and_runs_a_krat_built_image(saved_image: Path) -> None:
    with peers.Podman() as podman:
        podman.ok("load", "-i", str(saved_image))
        out = podman.ok("run", "--rm", "--network", "none", "kratbuilt:1").stdout
        assert (out.decode() if isinstance(out, bytes) else out) == EXPECTED
