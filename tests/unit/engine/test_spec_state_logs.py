"""Pure parts of the engine: flag parsers, the state machine and status strings, restart
back-off, json-file logs, generated names."""

from __future__ import annotations

import json

import pytest

from krat.engine import spec as S
from krat.engine.logs import LogWriter, log_files, parse_entry, timestamp
from krat.engine.monitorproto import frame, parse_frames
from krat.engine.monitorstate import restart_delay
from krat.engine.names import generate_name, new_id
from krat.engine.state import Status, StateView, check, status_string
from krat.errors import Conflict, InvalidArgument


@pytest.mark.parametrize("text,value", [("512m", 512 << 20), ("1g", 1 << 30), ("10000k", 10000 << 10),
                                        ("64MB", 64 << 20), ("7340032", 7340032)])
def test_memory_sizes(text, value):
    assert S.parse_memory(text) == value


@pytest.mark.parametrize("bad", ["abc", "-1m", "1x", "", "4m"])
def test_bad_memory(bad):
    with pytest.raises(InvalidArgument, match="--memory"):
        S.parse_memory(bad)


def test_restart_policies():
    assert S.parse_restart("on-failure:3") == S.RestartPolicy("on-failure", 3)
    assert S.parse_restart("always") == S.RestartPolicy("always", 0)
    for bad in ("sometimes", "always:3", "on-failure:x"):
        with pytest.raises(InvalidArgument):
            S.parse_restart(bad)


def test_other_flag_parsers():
    assert S.parse_cpus("1.5") == 1_500_000_000
    assert S.parse_ulimit("nofile=1024:2048") == S.Ulimit("nofile", 1024, 2048)
    assert S.parse_ulimit("nproc=64") == S.Ulimit("nproc", 64, 64)
    assert S.parse_tmpfs("/run:size=1m,exec").options == ("size=1m", "exec")
    assert S.parse_device("/dev/fuse") == S.Device("/dev/fuse", "/dev/fuse", "rwm")
    assert S.parse_device("/dev/sda:/dev/xvda:r") == S.Device("/dev/sda", "/dev/xvda", "r")
    assert S.parse_add_host("db:10.0.0.2") == ("db", "10.0.0.2")
    assert S.parse_add_host("v6:[::1]") == ("v6", "::1")
    assert S.parse_log_opts(["max-size=1k", "max-file=2"]) == S.LogConfig(1024, 2)
    assert S.parse_name("/web-1") == "web-1"
    for fn, bad in ((S.parse_ulimit, "nofile=2:1"), (S.parse_ulimit, "bogus=1"), (S.parse_tmpfs, "run"),
                    (S.parse_device, "dev/x"), (S.parse_add_host, "nohost"), (S.parse_name, "-bad"),
                    (S.parse_cpus, "many"), (S.parse_log_opts, ["colour=red"])):
        with pytest.raises(InvalidArgument):
            fn(bad)


def test_env_file(tmp_path):
    env = S.parse_env_file("x.env", "# c\nA=1\n\nB\nC=\n", {"B": "from-host"}.get)
    assert env == ["A=1", "B=from-host", "C="]
    assert S.parse_env_line("UNSET", {}.get) is None
    with pytest.raises(InvalidArgument, match="x.env:1"):
        S.parse_env_file("x.env", "BAD NAME=1\n", {}.get)


def test_state_machine():
    check("c", Status.CREATED, Status.RUNNING)
    with pytest.raises(Conflict, match="removing.*running|cannot move it to running"):
        check("c", Status.REMOVING, Status.RUNNING)


def test_status_strings():
    now = 1_000_000.0
    up = StateView(Status.RUNNING, 0, "1970-01-12T13:41:40Z", "0001-01-01T00:00:00Z")  # 999700
    assert status_string(up, now) == "Up 5 minutes"
    paused = StateView(Status.PAUSED, 0, "1970-01-12T13:41:40Z", "")
    assert status_string(paused, now) == "Up 5 minutes (Paused)"
    exited = StateView(Status.EXITED, 3, "1970-01-12T13:41:40Z", "1970-01-12T13:46:37Z")
    assert status_string(exited, now) == "Exited (3) 3 seconds ago"
    assert status_string(StateView(Status.CREATED, 0, "", ""), now) == "Created"


def test_restart_backoff():
    d = restart_delay("always", 0, 0, 0, False, 1.0, 0.0)
    assert d == 0.1
    assert restart_delay("always", 0, 0, 1, False, 1.0, d) == 0.2
    assert restart_delay("always", 0, 0, 9, False, 1.0, 40.0) == 60.0
    assert restart_delay("always", 0, 0, 9, False, 12.0, 40.0) == 0.1      # ran 10 s: reset
    assert restart_delay("on-failure", 2, 0, 0, False, 1.0, 0.0) is None    # success
    assert restart_delay("on-failure", 2, 1, 2, False, 1.0, 0.1) is None    # retries used up
    assert restart_delay("on-failure", 2, 1, 1, False, 1.0, 0.1) == 0.2
    assert restart_delay("unless-stopped", 0, 1, 0, True, 1.0, 0.0) is None  # a user stopped it
    assert restart_delay("no", 0, 1, 0, False, 1.0, 0.0) is None


def test_json_file_log_and_rotation(tmp_path):
    path = tmp_path / "c-json.log"
    log = LogWriter(str(path), max_size=300, max_file=3)
    log.write("stdout", b"hello\nwor")
    log.write("stderr", "é\n".encode())
    log.write("stdout", b"ld\n")
    first = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["log"], e["stream"]) for e in first] == [("hello\n", "stdout"), ("é\n", "stderr"), ("world\n", "stdout")]
    assert first[0]["time"].endswith("Z") and "T" in first[0]["time"]
    for i in range(50):
        log.write("stdout", f"line {i}\n".encode())
    log.close()
    files = log_files(str(path))
    assert [f.rsplit("/", 1)[1] for f in files] == ["c-json.log.2", "c-json.log.1", "c-json.log"]
    assert all((tmp_path / f).stat().st_size <= 300 for f in files)
    last = parse_entry(path.read_text().splitlines()[-1])
    assert last[:2] == ("stdout", "line 49\n")


def test_long_lines_are_split_as_partials(tmp_path):
    path = tmp_path / "c-json.log"
    log = LogWriter(str(path), max_size=0)
    log.write("stdout", b"x" * (40 * 1024) + b"\n")
    log.close()
    parts = [json.loads(line)["log"] for line in path.read_text().splitlines()]
    assert [len(p) for p in parts] == [16384, 16384, 40 * 1024 - 32768 + 1]
    assert parts[-1].endswith("\n") and not parts[0].endswith("\n")


def test_timestamp_format():
    assert timestamp(1_700_000_000_123_000_000) == "2023-11-14T22:13:20.123Z"
    assert timestamp(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


def test_frames_roundtrip():
    data = frame(1, b"abc") + frame(3, b'{"code": 0}') + frame(2, b"pa")[:4]
    frames, rest = parse_frames(data)
    assert frames == [(1, b"abc"), (3, b'{"code": 0}')] and len(rest) == 4


def test_ids_and_names():
    cid = new_id()
    assert len(cid) == 64 and int(cid, 16) >= 0 and not cid[:12].isdigit()
    name = generate_name()
    adjective, surname = name.split("_")
    assert adjective and surname and name.isascii()
    assert generate_name(retry=1)[-1].isdigit()


def test_container_timestamps_match_the_log_format(monkeypatch):
    import time

    from krat.engine.containers import now_rfc3339

    for ns in (1_700_000_000_123_000_000, 1_700_000_000_000_000_000, 1_700_000_000_000_000_001):
        monkeypatch.setattr(time, "time_ns", lambda ns=ns: ns)
        assert now_rfc3339() == timestamp(ns)
