"""`krat build` instruction features that need real containers: ADD (tar, URL), RUN mounts,
RUN --network, USER and --chown, ARG/ENV in RUN, ONBUILD, SHELL, VOLUME/HEALTHCHECK config."""

from __future__ import annotations

import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest
from test_build_cli import image_config, leftovers, run_image  # noqa: F401 - shared helpers

pytestmark = pytest.mark.root


@pytest.fixture(autouse=True)
def no_docker_hub(krat, tmp_path: Path) -> None:
    conf = tmp_path / "registries.conf"
    conf.write_text('[[registry]]\nlocation = "docker.io"\nblocked = true\n')
    krat.env["KRAT_REGISTRIES_CONF"] = str(conf)


def build(krat, tmp_path: Path, dockerfile: str, files: dict[str, bytes | str] | None = None,
          *flags: str) -> str:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, data in (files or {}).items():
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return krat.ok("build", "--progress", "plain", "-t", "feat:1", *flags, str(ctx)).stderr


def test_add_extracts_local_tars_but_copy_does_not(krat, busybox_image, tmp_path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg/hello.txt")
        data = b"inside the archive\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    build(krat, tmp_path, """FROM busybox
ADD bundle.tar.gz /opt/
COPY bundle.tar.gz /raw/
CMD ["sh", "-c", "cat /opt/pkg/hello.txt; ls /raw"]
""", {"bundle.tar.gz": buf.getvalue()})
    assert run_image(krat, "feat:1") == "inside the archive\nbundle.tar.gz\n"


def test_add_url_from_a_local_server(krat, busybox_image, tmp_path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "remote.txt").write_text("fetched at build time\n")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/remote.txt"
        build(krat, tmp_path, f"FROM busybox\nADD {url} /data/\nCMD [\"cat\", \"/data/remote.txt\"]\n")
    finally:
        server.shutdown()
    assert run_image(krat, "feat:1") == "fetched at build time\n"


def test_run_mounts_cache_and_bind_and_network_none(krat, busybox_image, tmp_path) -> None:
    dockerfile = """FROM busybox
RUN --mount=type=cache,target=/cache echo x >> /cache/log && wc -l < /cache/log > /count
RUN --mount=type=bind,source=data,target=/src cp /src/input.txt /copied.txt
RUN --network=none ip link 2>/dev/null | grep -c -v lo > /ifaces || true
CMD ["sh", "-c", "cat /count /copied.txt; test -e /cache/log && echo leaked || echo clean"]
"""
    build(krat, tmp_path, dockerfile, {"data/input.txt": "bound\n"})
    assert run_image(krat, "feat:1") == "1\nbound\nclean\n"
    build(krat, tmp_path, dockerfile, {}, "--no-cache")
    assert run_image(krat, "feat:1").splitlines()[0] == "2"  # the cache mount kept its contents
    assert leftovers(krat) == []


def test_user_chown_args_env_shell(krat, busybox_image, tmp_path) -> None:
    build(krat, tmp_path, """FROM busybox
ARG GREETING=hi
ENV TARGET=world
RUN echo "app:x:1000:1000::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:1000:" >> /etc/group
COPY --chown=app:app owned.txt /home/app/owned.txt
COPY --chmod=0640 owned.txt /perm.txt
USER app
RUN id -u > /tmp/uid && echo "$GREETING $TARGET" > /tmp/msg
SHELL ["/bin/sh", "-e", "-c"]
RUN echo shell-ok > /tmp/shell
USER root
CMD ["sh", "-c", "cat /tmp/uid /tmp/msg /tmp/shell; stat -c '%u:%g %a' /home/app/owned.txt /perm.txt"]
""", {"owned.txt": "mine\n"}, "--build-arg", "GREETING=hello")
    assert run_image(krat, "feat:1").splitlines() == ["1000", "hello world", "shell-ok", "1000:1000 644",
                                                      "0:0 640"]


def test_config_and_history_are_docker_compatible(krat, busybox_image, tmp_path) -> None:
    build(krat, tmp_path, """FROM busybox
LABEL org.opencontainers.image.title=feat
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=10s --timeout=2s CMD true
ONBUILD RUN echo child
ENTRYPOINT ["sh", "-c"]
CMD ["echo hi"]
""")
    doc = image_config(krat, "feat:1")
    c = doc["Config"]
    assert c["Labels"] == {"org.opencontainers.image.title": "feat"}
    assert c["Volumes"] == {"/data": {}}
    assert c["StopSignal"] == "SIGINT"
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 10_000_000_000, "Timeout": 2_000_000_000}
    assert c["OnBuild"] == ["RUN echo child"]
    assert c["Entrypoint"] == ["sh", "-c"] and c["Cmd"] == ["echo hi"]
    history = [json.loads(line) for line in krat.ok("history", "--no-trunc", "--format", "json",
                                                      "feat:1").stdout.splitlines()]
    created_by = [h["CreatedBy"] for h in history][:7][::-1]
    assert created_by[:3] == ["LABEL org.opencontainers.image.title=feat", "VOLUME [/data]", "STOPSIGNAL SIGINT"]
    assert created_by[4:] == ["ONBUILD RUN echo child", 'ENTRYPOINT ["sh" "-c"]', 'CMD ["echo hi"]']


def test_run_bind_mount_from_a_stage_and_empty_mountpoints_do_not_leak(krat, busybox_image, tmp_path) -> None:
    build(krat, tmp_path, """FROM busybox AS tools
RUN mkdir -p /tools && echo tool-output > /tools/out
FROM busybox
RUN --mount=type=bind,from=tools,source=/tools,target=/mnt/tools cat /mnt/tools/out > /result
CMD ["sh", "-c", "cat /result; test -e /mnt/tools && echo leaked || echo clean"]
""")
    assert run_image(krat, "feat:1") == "tool-output\nclean\n"


def test_deletions_in_run_become_whiteouts(krat, busybox_image, tmp_path) -> None:
    build(krat, tmp_path, """FROM busybox AS base
RUN mkdir -p /data/keep /data/gone && touch /data/keep/a /data/gone/b /data/file
FROM base
RUN rm -rf /data/gone /data/file && rm -rf /data/keep && mkdir /data/keep && touch /data/keep/new
FROM scratch
COPY --from=1 / /
CMD ["/bin/sh", "-c", "find /data | sort"]
""")
    assert run_image(krat, "feat:1") == "/data\n/data/keep\n/data/keep/new\n"


def test_copy_follows_symlinked_directories_of_the_image(krat, busybox_image, tmp_path) -> None:
    build(krat, tmp_path, """FROM busybox
RUN mkdir -p /real && ln -s /real /link
COPY f.txt /link/
CMD ["sh", "-c", "cat /real/f.txt; test -L /link && echo still-a-link"]
""", {"f.txt": "through the link\n"})
    assert run_image(krat, "feat:1") == "through the link\nstill-a-link\n"


def test_secret_mounts_are_readable_in_run_but_never_stored(krat, busybox_image, tmp_path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-value\n")
    dockerfile = """FROM busybox
RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /len && ls -l /run/secrets/token | cut -c1-10 > /mode
RUN --mount=type=secret,id=optional test ! -e /run/secrets/optional && echo absent > /optional
CMD ["sh", "-c", "cat /len /mode /optional; ls /run/secrets 2>/dev/null | wc -l"]
"""
    build(krat, tmp_path, dockerfile, {}, "--secret", f"id=token,src={secret}")
    assert run_image(krat, "feat:1") == "13\n-r--------\nabsent\n0\n"
    archive = tmp_path / "img.tar"
    krat.ok("save", "-o", str(archive), "feat:1")
    assert b"s3cr3t-value" not in archive.read_bytes()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM busybox\nRUN --mount=type=secret,id=need,required=true true\n")
    err = krat.fails("build", str(tmp_path / "ctx"), code=1)
    assert "Dockerfile:2: RUN needs secret 'need', which was not given" in err


def test_independent_stages_run_concurrently_in_real_containers(krat, busybox_image, tmp_path) -> None:
    # Each stage waits (up to 30 s) for the other's marker in a shared cache mount: run one
    # after the other, the first would give up and fail the build.
    meet = ("touch /r/{me} && i=0; while [ ! -e /r/{other} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; "
            "test -e /r/{other} && echo {me} > /{me}")
    build(krat, tmp_path, f"""FROM busybox AS left
RUN --mount=type=cache,id=rendezvous,target=/r {meet.format(me="left", other="right")}
FROM busybox AS right
RUN --mount=type=cache,id=rendezvous,target=/r {meet.format(me="right", other="left")}
FROM busybox
COPY --from=left /left /left
COPY --from=right /right /right
CMD ["cat", "/left", "/right"]
""")
    assert run_image(krat, "feat:1") == "left\nright\n"
    assert leftovers(krat) == []
