"""Build context: .dockerignore rules, COPY source selection, content digests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from krat.build.context import Context, manifest_digest
from krat.build.dockerignore import IgnoreMatcher, read_patterns
from krat.errors import InvalidArgument, NotFound


def test_read_patterns_cleans_like_docker() -> None:
    text = "# comment\n\n  node_modules/  \n/build\n!  keep.txt\n./a/../b\n*.pyc\n"
    assert read_patterns(text) == ["node_modules", "build", "!keep.txt", "b", "*.pyc"]


@pytest.mark.parametrize("patterns, path, excluded", [
    (["*.pyc"], "a.pyc", True),
    (["*.pyc"], "sub/a.pyc", False),           # * does not cross /
    (["**/*.pyc"], "sub/deep/a.pyc", True),
    (["**/*.pyc"], "a.pyc", True),
    (["node_modules"], "node_modules/x/y.js", True),   # a parent dir matched
    (["docs/**"], "docs", False),             # moby: a prefix match on "docs/"
    (["docs/**"], "docs/a/b", True),
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["*", "!src", "src/secret"], "src/main.py", False),
    (["*", "!src", "src/secret"], "src/secret", True),
    (["file?.txt"], "file1.txt", True),
    (["file[0-9].txt"], "fileA.txt", False),
    (["a\\*b"], "a*b", True),
    (["a\\*b"], "axb", False),
    (["**"], "anything/at/all", True),
])
def test_matcher(patterns: list[str], path: str, excluded: bool) -> None:
    assert IgnoreMatcher(read_patterns("\n".join(patterns))).excluded(path) is excluded


@pytest.fixture
def ctx_dir(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print(1)\n")
    (root / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (root / "requirements.txt").write_text("flask\n")
    (root / "a.txt").write_text("a")
    (root / "b.txt").write_text("b")
    (root / "secret.env").write_text("TOKEN=1")
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("")
    (root / "node_modules" / "keep.js").write_text("")
    (root / ".dockerignore").write_text("secret.env\nnode_modules\n!node_modules/keep.js\n")
    os.symlink("a.txt", root / "link")
    return root


def test_select_file_directory_and_wildcard(ctx_dir: Path) -> None:
    ctx = Context.from_directory(ctx_dir)
    assert [e.path for e in ctx.select("requirements.txt", "Dockerfile:3")] == ["requirements.txt"]
    assert [e.path for e in ctx.select("*.txt", "x")] == ["a.txt", "b.txt", "requirements.txt"]
    tree = ctx.select("src", "x")
    assert [(e.path, e.rel) for e in tree] == [
        ("src", ""), ("src/main.py", "main.py"), ("src/pkg", "pkg"), ("src/pkg/mod.py", "pkg/mod.py")]


def test_ignored_files_are_invisible_and_exceptions_come_back(ctx_dir: Path) -> None:
    ctx = Context.from_directory(ctx_dir)
    everything = [e.path for e in ctx.select(".", "x")]
    assert "secret.env" not in everything
    assert "node_modules/dep/index.js" not in everything
    assert "node_modules/keep.js" in everything and "node_modules" in everything
    with pytest.raises(NotFound, match="Dockerfile:7: no source files"):
        ctx.select("secret.env", "Dockerfile:7")


def test_outside_the_context_is_refused(ctx_dir: Path) -> None:
    ctx = Context.from_directory(ctx_dir)
    with pytest.raises(InvalidArgument, match="Dockerfile:2: forbidden path outside the build context: ../etc/passwd"):
        ctx.select("../etc/passwd", "Dockerfile:2")
    os.symlink("/etc", ctx_dir / "escape")
    with pytest.raises(InvalidArgument, match="outside the build context"):
        ctx.select("escape/passwd", "Dockerfile:2")


def test_digest_ignores_mtime_but_not_content_or_mode(ctx_dir: Path) -> None:
    def digest() -> str:
        ctx = Context.from_directory(ctx_dir)
        return manifest_digest(ctx.manifest(ctx.select("src", "x")))

    first = digest()
    os.utime(ctx_dir / "src" / "main.py", (1, 1))
    assert digest() == first
    (ctx_dir / "src" / "main.py").chmod(0o755)
    second = digest()
    assert second != first
    (ctx_dir / "src" / "main.py").write_text("print(2)\n")
    assert digest() != second


def test_symlink_digest_is_its_target(ctx_dir: Path) -> None:
    ctx = Context.from_directory(ctx_dir)
    before = ctx.manifest(ctx.select("link", "x"))
    (ctx_dir / "link").unlink()
    os.symlink("b.txt", ctx_dir / "link")
    after = Context.from_directory(ctx_dir).manifest(Context.from_directory(ctx_dir).select("link", "x"))
    assert before != after
