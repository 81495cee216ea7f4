"""The host-side files of a container (its /etc files, config.json): a new one is written in
place, an existing one (a later start) is replaced whole; no temporary file is left."""

from __future__ import annotations

import json
import os

from krat.engine import bundle


def test_etc_file_new_then_replaced(tmp_path):
    path = str(tmp_path / "hosts")
    bundle.write_file(path, "127.0.0.1\tlocalhost\n")
    assert open(path).read() == "127.0.0.1\tlocalhost\n"
    inode = os.stat(path).st_ino
    bundle.write_file(path, "short\n")
    assert open(path).read() == "short\n"
    assert os.stat(path).st_ino != inode  # replaced by a rename, never truncated in place
    assert sorted(os.listdir(tmp_path)) == ["hosts"]


def test_config_json_new_then_replaced(tmp_path):
    folder = str(tmp_path / "run" / "abc")
    bundle.write_config(folder, {"ociVersion": "1.0.2", "process": {"args": ["true"]}})
    assert json.load(open(os.path.join(folder, "config.json")))["process"]["args"] == ["true"]
    bundle.write_config(folder, {"ociVersion": "1.0.2"})
    assert json.load(open(os.path.join(folder, "config.json"))) == {"ociVersion": "1.0.2"}
    assert os.listdir(folder) == ["config.json"]


def test_config_json_that_cannot_be_encoded_leaves_no_file(tmp_path):
    folder = str(tmp_path / "b")
    try:
        bundle.write_config(folder, {"bad": object()})
    except TypeError:
        pass
    assert os.listdir(folder) == []
