"""The OCI runtime spec as typed data: parsing runc's template, round trips, field-named errors."""

from __future__ import annotations

import json

import pytest

from krat.errors import InvalidArgument
from krat.oci.runtime import ContainerStatus, Spec, State, load_spec

RUNC_TEMPLATE = {
    "ociVersion": "1.0.2-dev",
    "process": {"terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
                "env": ["PATH=/usr/bin:/bin", "TERM=xterm"], "cwd": "/",
                "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                                 "ambient": ["CAP_KILL"]},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}], "noNewPrivileges": True},
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
    "linux": {"resources": {"devices": [{"allow": False, "access": "rwm"}]},
              "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}],
              "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
              "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                  {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}},
    "unknownKey": {"ignored": True},
}


def test_parse_and_round_trip():
    spec = Spec.from_json(RUNC_TEMPLATE)
    assert spec.process.args == ("sh",) and spec.process.terminal
    assert spec.process.capabilities.ambient == ("CAP_KILL",)
    assert spec.process.rlimits[0].type == "RLIMIT_NOFILE"
    assert spec.linux.namespace("network").type == "network" and spec.linux.namespace("user") is None
    assert spec.linux.resources.devices[0].allow is False and spec.linux.resources.devices[0].type == "a"
    assert spec.linux.seccomp.syscalls[0].names == ("read",)
    assert Spec.from_json(spec.to_json()) == spec
    assert "unknownKey" not in spec.to_json()


@pytest.mark.parametrize("path,value,message", [
    (("process", "args"), "sh", "process.args: expected a list"),
    (("process", "args"), [], "process.args: must name a program to run"),
    (("process", "cwd"), "relative", "process.cwd: must be an absolute path"),
    (("process", "env"), ["NOEQUALS"], "process.env[0]: expected NAME=VALUE"),
    (("process", "user", "uid"), "0", "process.user.uid: expected an integer"),
    (("linux", "namespaces"), [{"type": "pid"}, {"type": "pid"}], "linux.namespaces: namespace 'pid' is listed twice"),
    (("linux", "namespaces"), [{"type": "bogus"}], "linux.namespaces[0].type: unknown namespace 'bogus'"),
    (("linux", "resources", "memory"), {"limit": "1g"}, "linux.resources.memory.limit: expected an integer"),
    (("mounts",), [{"destination": "proc"}], "mounts[0].destination: must be an absolute path"),
    (("linux", "rootfsPropagation"), "sideways", "linux.rootfsPropagation: unknown propagation"),
])
def test_errors_name_the_field(path, value, message):
    doc = json.loads(json.dumps(RUNC_TEMPLATE))
    target = doc
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[").replace("]", r"\]")):
        Spec.from_json(doc)


def test_load_spec_names_the_file(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidArgument, match=str(bad)):
        load_spec(str(bad))
    bad.write_text(json.dumps({"process": {"args": ["sh"]}}))
    with pytest.raises(InvalidArgument, match=f"{bad}: root: is required"):
        load_spec(str(bad))


def test_state_document():
    state = State("c1", ContainerStatus.RUNNING, 42, "/b", annotations=(("a", "b"),))
    doc = state.to_json()
    assert doc == {"ociVersion": "1.0.2", "id": "c1", "status": "running", "pid": 42, "bundle": "/b",
                   "annotations": {"a": "b"}}
    assert State.from_json(doc) == state
    assert State("c1", ContainerStatus.STOPPED, 42, "/b").to_json()["pid"] == 0


def test_hooks_parse_in_spec_order_and_name_bad_fields():
    doc = json.loads(json.dumps(RUNC_TEMPLATE))
    doc["hooks"] = {"poststop": [{"path": "/bin/true"}], "prestart": [{"path": "/bin/x", "args": ["x", "1"], "timeout": 5}]}
    spec = Spec.from_json(doc)
    assert [kind for kind, _ in spec.hooks] == ["prestart", "poststop"]
    assert spec.hooks_of("prestart")[0].timeout == 5 and spec.hooks_of("poststart") == ()
    assert Spec.from_json(spec.to_json()) == spec
    for hooks, message in (({"prestart": [{"path": "rel"}]}, r"hooks.prestart\[0\].path: must be an absolute path"),
                           ({"onBoot": []}, "hooks.onBoot: unknown hook kind"),
                           ({"poststop": [{"path": "/x", "timeout": 0}]}, r"hooks.poststop\[0\].timeout")):
        doc["hooks"] = hooks
        with pytest.raises(InvalidArgument, match=message):
            Spec.from_json(doc)


def test_container_status_is_a_closed_set_of_string_constants():
    import copy
    import pickle

    running = ContainerStatus("running")
    assert running is ContainerStatus.RUNNING and running == "running" and running.value == "running"
    assert running.name == "RUNNING" and repr(running) == "<ContainerStatus.RUNNING: 'running'>"
    assert str(running) == f"{running}" == "ContainerStatus.RUNNING"
    assert {running: 1}["running"] == 1 and isinstance(running, str)
    assert pickle.loads(pickle.dumps(running)) is running and copy.deepcopy(running) is running
    with pytest.raises(ValueError, match="'runnin' is not a valid ContainerStatus"):
        ContainerStatus("runnin")
    with pytest.raises(InvalidArgument, match="state.status: unknown status 'x'"):
        State.from_json({"id": "c", "status": "x", "pid": 1, "bundle": "/b"})
