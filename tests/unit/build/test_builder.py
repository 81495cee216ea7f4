"""The builder's decisions, over a directory-only backend: config, files, stages, cache."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from fakebackend import FakeBackend

from krat.build.builder import Builder
from krat.build.context import Context
from krat.build.fsview import LayerView
from krat.build.progress import PlainProgress
from krat.build.state import BuildRequest
from krat.db import open_database
from krat.errors import InvalidArgument, KratError, NotFound


@pytest.fixture
def env(tmp_path: Path):
    backend = FakeBackend(tmp_path / "backend")
    backend.add_image("busybox", {"/bin/sh": "#!", "/etc/passwd": "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
                                  "/etc/group": "root:x:0:\napp:x:1000:\n"},
                      {"Env": ["PATH=/bin"], "Cmd": ["sh"], "OnBuild": None})
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "requirements.txt").write_text("flask\n")
    (ctx / "app.py").write_text("print('hi')\n")
    (ctx / "src").mkdir()
    (ctx / "src" / "a.py").write_text("a\n")
    db = open_database(tmp_path / "krat.db")
    return backend, ctx, db


def build(env, dockerfile: str, **kw):
    backend, ctx, db = env
    out = io.StringIO()
    req = BuildRequest(dockerfile, Context.from_directory(ctx), **kw)
    result = Builder(backend, db, PlainProgress(out, explain=True)).build(req)
    doc, layers, tags = backend.created[result.image_id]
    return result, doc, layers, out.getvalue()


SEED = """FROM busybox
WORKDIR /app
COPY requirements.txt .
RUN echo install
COPY app.py .
EXPOSE 5000
CMD ["python", "app.py"]
"""


def files_of(layers) -> dict[str, str]:
    view = LayerView([layer.dir for layer in layers])
    return {p: view.real(p).read_text() for p in view.walk("") if view.real(p).is_file()}


def test_seed_app_config_and_files(env) -> None:
    result, doc, layers, _ = build(env, SEED, tags=["seed:1"])
    config = doc["config"]
    assert config["WorkingDir"] == "/app"
    assert config["ExposedPorts"] == {"5000/tcp": {}}
    assert config["Cmd"] == ["python", "app.py"]
    files = files_of(layers)
    assert files["app/requirements.txt"] == "flask\n" and files["app/app.py"] == "print('hi')\n"
    assert [h["created_by"] for h in doc["history"]] == [
        "WORKDIR /app", "COPY requirements.txt .", "RUN /bin/sh -c echo install", "COPY app.py .",
        "EXPOSE map[5000/tcp:{}]", 'CMD ["python" "app.py"]']
    assert doc["rootfs"]["diff_ids"] == [layer.diff_id for layer in layers]
    backend = env[0]
    assert backend.runs[0].argv == ["/bin/sh", "-c", "echo install"] and backend.runs[0].cwd == "/app"


def test_rebuild_is_fully_cached_and_same_image(env) -> None:
    first, *_ = build(env, SEED)
    runs = len(env[0].runs)
    second, _, _, out = build(env, SEED)
    assert second.image_id == first.image_id
    assert len(env[0].runs) == runs
    assert all(s.cached for s in second.steps)


def test_touching_a_late_file_reruns_only_from_its_copy(env) -> None:
    build(env, SEED)
    ctx = env[1]
    os.utime(ctx / "requirements.txt", (1, 1))   # mtime only: still cached
    (ctx / "app.py").write_text("print('changed')\n")
    result, _, _, out = build(env, SEED)
    state = {s.text.split()[0] + " " + s.text.split()[1]: s.cached for s in result.steps}
    assert state["COPY requirements.txt"] and state["RUN echo"]
    assert not state["COPY app.py"] and not state["EXPOSE 5000"]
    assert "MISS: file app.py changed" in out
    assert "MISS: an earlier step re-ran" in out


def test_no_cache_runs_everything(env) -> None:
    build(env, SEED)
    runs = len(env[0].runs)
    result, *_ = build(env, SEED, no_cache=True)
    assert len(env[0].runs) == runs + 1
    assert not any(s.cached for s in result.steps[1:])


def test_build_arg_invalidates_from_first_use(env) -> None:
    dockerfile = "FROM busybox\nARG V=1\nCOPY app.py /\nLABEL v=$V\nRUN echo $V\n"
    build(env, dockerfile)
    result, doc, _, out = build(env, dockerfile, build_args={"V": "2"})
    cached = [s.cached for s in result.steps]
    assert cached == [True, True, True, False, False]  # ARG and COPY do not use the value
    assert "#4 MISS: build arg V changed ('1' -> '2')" in out
    assert doc["history"][-1]["created_by"] == "RUN |1 V=2 /bin/sh -c echo $V"


def test_env_label_user_and_friends(env) -> None:
    dockerfile = """FROM busybox
ENV A=1 B="two words"
ENV C=${A}-$B
LABEL "x y"=z version=$A
USER app
VOLUME /data
STOPSIGNAL SIGINT
SHELL ["/bin/ash", "-c"]
ENTRYPOINT echo hi
HEALTHCHECK --interval=5s --retries=2 CMD true
ONBUILD RUN echo later
MAINTAINER me
"""
    _, doc, _, _ = build(env, dockerfile, labels={"extra": "1"})
    c = doc["config"]
    assert c["Env"] == ["PATH=/bin", "A=1", "B=two words", "C=1-two words"]
    assert c["Labels"] == {"x y": "z", "version": "1", "extra": "1"}
    assert c["User"] == "app" and c["Volumes"] == {"/data": {}} and c["StopSignal"] == "SIGINT"
    assert c["Shell"] == ["/bin/ash", "-c"]
    assert c["Entrypoint"] == ["/bin/ash", "-c", "echo hi"] and "Cmd" not in c
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 2}
    assert c["OnBuild"] == ["RUN echo later"]
    assert doc["author"] == "me"


def test_onbuild_triggers_run_in_the_child(env) -> None:
    backend = env[0]
    backend.add_image("parent", {"/x": "x"}, {"OnBuild": ["RUN echo from-parent"]})
    _, doc, _, _ = build(env, "FROM parent\nRUN echo child\n")
    assert [r.argv[-1] for r in backend.runs] == ["echo from-parent", "echo child"]
    assert "OnBuild" not in doc["config"]


def test_multistage_copy_from_stage_and_image_and_target(env) -> None:
    backend = env[0]
    backend.add_image("tools", {"/opt/tool": "tool-bytes"})

    def on_run(spec, upper, output):
        (upper / "out").mkdir(exist_ok=True)
        (upper / "out" / "app").write_text("binary")
        return 0

    backend.on_run = on_run
    dockerfile = """FROM busybox AS build
RUN make
FROM busybox AS unused
RUN echo never
FROM scratch
COPY --from=build /out/app /bin/app
COPY --from=tools /opt/tool /opt/
"""
    result, doc, layers, _ = build(env, dockerfile)
    assert [r.argv[-1] for r in backend.runs] == ["make"]     # the unused stage is skipped
    assert files_of(layers) == {"bin/app": "binary", "opt/tool": "tool-bytes"}
    _, doc2, _, _ = build(env, dockerfile, target="build")
    assert doc2["history"][-1]["created_by"] == "RUN /bin/sh -c make"


def test_copy_rules(env) -> None:
    ctx = env[1]
    (ctx / "dir").mkdir()
    (ctx / "dir" / "one.txt").write_text("1")
    (ctx / "dir" / "sub").mkdir()
    (ctx / "dir" / "sub" / "two.txt").write_text("2")
    dockerfile = """FROM scratch
COPY dir /target
COPY *.txt /many/
COPY app.py /renamed.py
COPY --chmod=0700 app.py /modes/
COPY <<EOF /etc/motd
hello $NAME
EOF
"""
    _, _, layers, _ = build(env, dockerfile)
    files = files_of(layers)
    assert files["target/one.txt"] == "1" and files["target/sub/two.txt"] == "2"
    assert files["many/requirements.txt"] == "flask\n"
    assert files["renamed.py"] == "print('hi')\n"
    assert files["etc/motd"] == "hello \n"
    view = LayerView([layer.dir for layer in layers])
    assert view.lstat("modes/app.py").st_mode & 0o777 == 0o700


def test_several_sources_need_a_directory(env) -> None:
    with pytest.raises(InvalidArgument, match="Dockerfile:2: when using COPY or ADD with more than one source"):
        build(env, "FROM scratch\nCOPY app.py requirements.txt /x\n")


@pytest.mark.parametrize("dockerfile, message", [
    ("RUN echo\n", "Dockerfile:1: RUN before the first FROM"),
    ("FROM busybox\nCOPY ../secret /x\n", "Dockerfile:2: forbidden path outside the build context: ../secret"),
    ("FROM busybox\nCOPY --from=nowhere /a /b\n", "Dockerfile:2: COPY --from=nowhere: no build stage or image named 'nowhere'"),
    ("FROM nosuchimage\n", "Dockerfile:1: No such image: nosuchimage"),
    ("FROM busybox\nCOPY missing.txt /x\n", "Dockerfile:2: no source files were specified"),
    ("FROM busybox\nRUN --network=bogus true\n", "Dockerfile:2: RUN --network=bogus"),
    ("FROM busybox\nSHELL /bin/bash\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form"),
])
def test_errors_name_file_and_line(env, dockerfile: str, message: str) -> None:
    with pytest.raises(KratError) as err:
        build(env, dockerfile)
    assert err.value.message.startswith(message), err.value.message


def test_unknown_target(env) -> None:
    with pytest.raises(NotFound, match="target stage 'nope' could not be found"):
        build(env, "FROM busybox\n", target="nope")


def test_failing_run_names_line_exit_code_and_output(env) -> None:
    def on_run(spec, upper, output):
        output(b"step one\nboom: it broke\n")
        return 3

    env[0].on_run = on_run
    with pytest.raises(KratError) as err:
        build(env, "FROM busybox\nRUN make all\n", tags=["x:1"])
    assert err.value.message == "Dockerfile:2: RUN make all failed with exit code 3: boom: it broke"
    assert env[0].created == {}
    assert list((env[0].root / "work").iterdir()) == []


def test_platform_link_and_expose_ranges(env) -> None:
    dockerfile = """FROM --platform=linux/amd64 busybox
ARG PORT=8000
COPY --link app.py /app.py
EXPOSE ${PORT}-8002/tcp 53/udp
"""
    _, doc, layers, _ = build(env, dockerfile)
    assert files_of(layers)["app.py"] == "print('hi')\n"
    assert doc["config"]["ExposedPorts"] == {"8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}, "53/udp": {}}


def test_proxy_args_reach_run_but_not_history_or_cache(env) -> None:
    dockerfile = "FROM busybox\nRUN echo hi\n"
    _, doc, _, _ = build(env, dockerfile, build_args={"HTTP_PROXY": "http://127.0.0.1:3128"})
    assert "HTTP_PROXY=http://127.0.0.1:3128" in env[0].runs[-1].env
    assert doc["history"][-1]["created_by"] == "RUN /bin/sh -c echo hi"
    result, _, _, out = build(env, dockerfile, build_args={"HTTP_PROXY": "http://127.0.0.1:9999"})
    assert all(s.cached for s in result.steps)
    assert "were not consumed" not in out


def test_unused_build_arg_is_warned_about(env) -> None:
    _, _, _, out = build(env, "FROM busybox\n", build_args={"NOPE": "1"})
    assert "WARNING: one or more build-args ['NOPE'] were not consumed" in out


def test_run_heredoc_forms(env) -> None:
    dockerfile = """FROM busybox
RUN <<EOF
echo plain
EOF
RUN <<EOF
#!/bin/sh
echo script
EOF
RUN cat <<A > /f
x
A
"""
    build(env, dockerfile)
    runs = env[0].runs
    assert runs[0].argv == ["/bin/sh", "-c", "echo plain\n"]
    assert runs[1].argv == ["/dev/.krat-heredoc"] and runs[1].mounts[0].target == "/dev/.krat-heredoc"
    assert runs[2].argv == ["/bin/sh", "-c", "cat <<A > /f\nx\nA\n"]


def test_copy_of_a_symlink_to_a_directory_copies_the_directory(env) -> None:
    ctx = env[1]
    os.symlink("src", ctx / "alias")
    _, _, layers, _ = build(env, "FROM scratch\nCOPY alias /dst\n")
    assert files_of(layers) == {"dst/a.py": "a\n"}


def test_failing_onbuild_trigger_points_at_the_from_line(env) -> None:
    env[0].add_image("parent2", {"/x": "x"}, {"OnBuild": ["COPY missing.txt /"]})
    with pytest.raises(KratError) as err:
        build(env, "# comment\nFROM parent2\n")
    assert err.value.message.startswith("Dockerfile:2: ")


def test_platform_args_are_predefined(env) -> None:
    dockerfile = "FROM --platform=$BUILDPLATFORM busybox\nARG TARGETOS TARGETARCH\nRUN echo $TARGETOS/$TARGETARCH\n"
    build(env, dockerfile)
    import platform

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    assert f"TARGETARCH={arch}" in env[0].runs[-1].env and "TARGETOS=linux" in env[0].runs[-1].env


def test_broken_json_form_runs_as_shell_with_a_warning(env) -> None:
    _, doc, _, out = build(env, 'FROM busybox\nCMD ["python", "app.py",]\n')
    assert doc["config"]["Cmd"] == ["/bin/sh", "-c", '["python", "app.py",]']
    assert "WARNING: Dockerfile:2: CMD is not a valid JSON array, so it runs as a shell command" in out


def test_cache_mount_options(env) -> None:
    build(env, "FROM busybox\nRUN --mount=type=cache,target=/c,id=shared,mode=0700,uid=0,gid=0 true\n")
    spec = env[0].runs[-1]
    assert spec.mounts[0].target == "/c" and not spec.mounts[0].readonly
    assert os.stat(spec.mounts[0].source).st_mode & 0o777 == 0o700


PARALLEL = """FROM busybox AS left
RUN meet left
FROM busybox AS right
RUN meet right
FROM scratch
COPY --from=left /out/left /left
COPY --from=right /out/right /right
"""


def test_independent_stages_run_at_the_same_time(env) -> None:
    import threading

    barrier = threading.Barrier(2, timeout=20)

    def on_run_named(spec, upper, output):
        name = spec.argv[-1].split()[-1]
        barrier.wait()
        (upper / "out").mkdir()
        (upper / "out" / name).write_text(name)
        return 0

    env[0].on_run = on_run_named
    _, _, layers, _ = build(env, PARALLEL)
    assert files_of(layers) == {"left": "left", "right": "right"}


def test_a_failing_stage_stops_the_build(env) -> None:
    def on_run(spec, upper, output):
        return 7

    env[0].on_run = on_run
    with pytest.raises(KratError, match="failed with exit code 7"):
        build(env, PARALLEL)
    assert env[0].created == {}
