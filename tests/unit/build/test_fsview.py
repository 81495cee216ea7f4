"""LayerView: the merged view of layer directories (whiteouts, opaque dirs, symlinks)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from krat.build.fsview import LayerView
from krat.errors import InvalidArgument


def layer(root: Path, name: str, files: dict[str, str | None]) -> Path:
    base = root / name
    base.mkdir()
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            path.mkdir(exist_ok=True)
        elif text.startswith("->"):
            os.symlink(text[2:], path)
        else:
            path.write_text(text)
    return base


def test_whiteouts_and_opaque_directories(tmp_path: Path) -> None:
    low = layer(tmp_path, "l0", {"etc/passwd": "root", "etc/group": "g", "data/a": "1", "data/b": "2"})
    mid = layer(tmp_path, "l1", {"etc/.wh.group": "", "data/.wh..wh..opq": "", "data/c": "3"})
    top = layer(tmp_path, "l2", {"etc/hosts": "h"})
    view = LayerView([low, mid, top])
    assert view.listdir("etc") == ["hosts", "passwd"]
    assert view.listdir("data") == ["c"]
    assert view.real("data/a") is None and view.real("etc/group") is None
    assert view.real("etc/passwd") == low / "etc" / "passwd"
    assert view.walk("") == ["data", "data/c", "etc", "etc/hosts", "etc/passwd"]


def test_a_file_in_an_upper_layer_hides_a_lower_directory(tmp_path: Path) -> None:
    low = layer(tmp_path, "l0", {"opt/tool/bin": "x"})
    top = layer(tmp_path, "l1", {"opt/tool": "now a file"})
    view = LayerView([low, top])
    assert view.real("opt/tool/bin") is None
    assert view.read_text("/opt/tool") == "now a file"


def test_resolve_follows_symlinks_inside_the_image_only(tmp_path: Path) -> None:
    low = layer(tmp_path, "l0", {"real/f": "x", "link": "->/real", "rel": "->real", "up": "->../../../../etc",
                                 "loop": "->loop"})
    view = LayerView([low])
    assert view.resolve("/link/f") == "/real/f"
    assert view.resolve("/rel/f") == "/real/f"
    assert view.resolve("/up/passwd") == "/etc/passwd"        # clamped at the image's root
    assert view.is_dir("/link") and not view.is_dir("/real/f")
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        view.resolve("/loop")
