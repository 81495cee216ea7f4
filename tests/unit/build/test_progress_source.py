"""Progress output (plain, tty, quiet) and where a build's context and Dockerfile come from."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from krat.build.progress import PlainProgress, QuietProgress, Step, TtyProgress
from krat.build.source import open_source
from krat.errors import InvalidArgument, NotFound


def run_steps(progress) -> None:
    first = Step(1, "build", 2, "RUN make", 2)
    progress.begin(first)
    progress.output(first, b"compiling\npart")
    progress.output(first, b"ial line\n")
    first.cached, first.reason = False, "file main.c changed"
    progress.end(first)
    second = Step(2, "", 3, "COPY . /app", 2)
    progress.begin(second)
    second.cached = True
    progress.end(second)


def test_plain_progress_lines() -> None:
    out = io.StringIO()
    run_steps(PlainProgress(out, explain=True))
    lines = out.getvalue().splitlines()
    assert lines[0] == "#1 [build 1/2] RUN make"
    assert lines[1].startswith("#1 ") and lines[1].endswith(" compiling")
    assert lines[2].endswith(" partial line")
    assert lines[3] == "#1 MISS: file main.c changed"
    assert lines[4].startswith("#1 DONE ")
    assert lines[5:] == ["#2 [2/2] COPY . /app", "#2 CACHED"]


def test_tty_progress_keeps_finished_steps_with_times() -> None:
    out = io.StringIO()
    progress = TtyProgress(out, explain=True)
    run_steps(progress)
    progress.close()
    text = out.getvalue()
    assert "\x1b[K" in text
    finished = [line.split("\r")[-1] for line in text.split("\n") if "=> [" in line.split("\r")[-1]]
    assert finished[0].startswith("\x1b[K=> [build 1/2] RUN make ") and "(file main.c changed)" in finished[0]
    assert "CACHED" in finished[1]


def test_quiet_progress_prints_nothing_on_success() -> None:
    out = io.StringIO()
    run_steps(QuietProgress(out))
    assert out.getvalue() == ""


def test_source_directory_with_own_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "app.Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app.Dockerfile.dockerignore").write_text("secret\n")
    (tmp_path / ".dockerignore").write_text("")
    src = open_source(str(tmp_path), str(tmp_path / "app.Dockerfile"), io.BytesIO(), tmp_path / "tmp")
    assert src.dockerfile == "FROM scratch\n"
    assert src.context.matcher.excluded("secret")


def test_source_stdin_dockerfile_and_tar(tmp_path: Path) -> None:
    src = open_source("-", None, io.BytesIO(b"FROM scratch\nLABEL a=b\n"), tmp_path / "tmp")
    assert src.dockerfile.startswith("FROM scratch") and list(src.context.root.iterdir()) == []
    temp = src.temp
    src.close()
    assert not temp.exists()
    ctx = tmp_path / "c"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
    (ctx / "f").write_text("x")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(ctx, arcname=".")
    buf.seek(0)
    src = open_source("-", None, buf, tmp_path / "tmp")
    try:
        assert (src.context.root / "f").read_text() == "x"
        assert src.dockerfile == "FROM scratch\nCOPY f /f\n"
    finally:
        src.close()


def test_source_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="path 'nowhere' not found"):
        open_source("nowhere", None, io.BytesIO(), tmp_path)
    with pytest.raises(NotFound, match="cannot read Dockerfile: no such file"):
        open_source(str(tmp_path), None, io.BytesIO(), tmp_path / "tmp")
    (tmp_path / "plain.txt").write_text("not a tar")
    with pytest.raises(InvalidArgument, match="neither a directory nor a tar archive"):
        open_source(str(tmp_path / "plain.txt"), None, io.BytesIO(), tmp_path / "tmp")


def test_json_stream_progress_speaks_the_engine_api() -> None:
    from krat.build.progress import JsonStreamProgress

    messages: list[dict] = []
    progress = JsonStreamProgress(messages.append)
    run_steps(progress)
    progress.finished("sha256:" + "ab" * 32, ["app:1"])
    progress.error("Dockerfile:2: boom")
    assert messages[0] == {"stream": "Step 1/2 : RUN make\n"}
    assert {"stream": "compiling\npart"} in messages and {"stream": " ---> Using cache\n"} in messages
    assert {"aux": {"ID": "sha256:" + "ab" * 32}} in messages
    assert {"stream": "Successfully built abababababab\n"} in messages
    assert messages[-1] == {"errorDetail": {"code": 1, "message": "Dockerfile:2: boom"}, "error": "Dockerfile:2: boom"}
