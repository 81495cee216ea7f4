"""ocigen: golden config.json documents, and Docker's rules for applying an image config."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from krat.engine import ocigen
from krat.engine.ocigen import HostDevice, ProcessUser, RunContext
from krat.engine.spec import (ContainerSpec, Mount, Resources, RestartPolicy, Security, Ulimit,
                              parse_tmpfs)
from krat.errors import InvalidArgument

GOLDEN = Path(__file__).parent / "golden"
CID = "3f2a1b0c9d8e" + "0" * 52
IMAGE = {"Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "Cmd": ["sh"], "WorkingDir": "/srv",
         "StopSignal": "SIGQUIT"}


def ctx(**kw) -> RunContext:
    base = dict(container_id=CID, rootfs="/var/lib/krat/containers/x/rootfs", cgroups_path=f"/krat/{CID}",
                etc_files=(("/etc/resolv.conf", "/s/resolv.conf"), ("/etc/hostname", "/s/hostname"),
                           ("/etc/hosts", "/s/hosts")),
                extra_masked=("/sys/devices/system/cpu/cpu0/thermal_throttle",))
    base.update(kw)
    return RunContext(**base)


CASES = {
    "default": (ContainerSpec(image="busybox"), ctx()),
    "tty-user-env": (ContainerSpec(image="busybox", command=("top", "-b"), env=("LANG=en", "X=1"), tty=True,
                                   user="www-data", working_dir="/tmp", hostname="box",
                                   ulimits=(Ulimit("nofile", 1024, 2048),)),
                     ctx(user=ProcessUser(33, 33, (5,)))),
    "limits-security": (ContainerSpec(image="busybox", entrypoint=("/bin/echo",), command=("hi",),
                                      resources=Resources(memory=64 << 20, nano_cpus=1_500_000_000,
                                                          cpu_shares=512, pids_limit=50),
                                      security=Security(cap_add=("sys_admin",), cap_drop=("NET_RAW", "mknod"),
                                                        no_new_privileges=True, read_only=True,
                                                        seccomp="unconfined"),
                                      mounts=(parse_tmpfs("/run:size=1m,exec"),), init=True, shm_size=1 << 20),
                        ctx(devices=(HostDevice("/dev/fuse", "c", 10, 229, 0o666, "rw"),))),
    "privileged-host": (ContainerSpec(image="busybox", security=Security(privileged=True), network_mode="host",
                                      pid_mode="host", ipc_mode="host"),
                        ctx(host_hostname="buildhost", cgroup_v2=True,
                            host_caps=tuple(c for c in ocigen.ALL_CAPS if c != "CAP_SYS_RESOURCE"),
                            devices=(HostDevice("/dev/kmsg", "c", 1, 11, 0o600, "r"),),
                            host_devices=(HostDevice("/dev/kmsg", "c", 1, 11, 0o644),
                                          HostDevice("/dev/loop0", "b", 7, 0, 0o660, "rwm", 0, 6),
                                          HostDevice("/dev/net/tun", "c", 10, 200, 0o666)))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_config(case):
    spec, run = CASES[case]
    doc = ocigen.generate(spec, IMAGE, run)
    doc["linux"].pop("seccomp", None)   # the profile has its own tests
    path = GOLDEN / f"{case}.json"
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if os.environ.get("KRAT_UPDATE_GOLDEN") or not path.exists():
        path.write_text(text)
    assert json.loads(path.read_text()) == json.loads(text)


def test_docker_defaults():
    doc = ocigen.generate(ContainerSpec(image="busybox"), {"Cmd": ["sh"]}, ctx())
    caps = doc["process"]["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"] == list(ocigen.DEFAULT_CAPS)
    assert len(caps["bounding"]) == 14 and "inheritable" not in caps and "ambient" not in caps
    assert doc["hostname"] == CID[:12]
    assert doc["process"]["env"][:2] == [ocigen.DEFAULT_PATH, f"HOSTNAME={CID[:12]}"]
    assert [m["destination"] for m in doc["mounts"]][:7] == [
        "/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]
    assert "/proc/kcore" in doc["linux"]["maskedPaths"] and "/proc/sysrq-trigger" in doc["linux"]["readonlyPaths"]
    assert {n["type"] for n in doc["linux"]["namespaces"]} == {"pid", "network", "ipc", "uts", "mount"}
    assert "noNewPrivileges" not in doc["process"]
    assert doc["linux"]["resources"]["devices"][0] == {"allow": False, "access": "rwm"}


def test_entrypoint_and_cmd_rules():
    img = {"Entrypoint": ["/entry"], "Cmd": ["default"]}
    args = lambda **kw: ocigen.process_args(ContainerSpec(image="x", **kw), img)  # noqa: E731
    assert args() == ["/entry", "default"]
    assert args(command=("mine",)) == ["/entry", "mine"]
    assert args(entrypoint=("/other",)) == ["/other"]            # --entrypoint drops the image's Cmd
    assert args(entrypoint=("",), command=("ls",)) == ["ls"]     # --entrypoint '' clears it
    with pytest.raises(InvalidArgument, match="no command"):
        args(entrypoint=("",))


def test_env_merge_order():
    spec = ContainerSpec(image="x", env=("LANG=de", "NEW=1", "PATH=/custom"), tty=True)
    env = ocigen.container_env(spec, {"Env": ["PATH=/img", "LANG=C"]}, "h")
    assert env == ["PATH=/custom", "HOSTNAME=h", "TERM=xterm", "LANG=de", "NEW=1"]


def test_capability_rules():
    caps = lambda **kw: ocigen.capabilities(ContainerSpec(image="x", security=Security(**kw)), ocigen.ALL_CAPS)  # noqa
    assert "CAP_NET_ADMIN" in caps(cap_add=("net_admin",))
    assert "CAP_CHOWN" not in caps(cap_drop=("CHOWN",))
    assert caps(cap_drop=("ALL",), cap_add=("KILL",)) == ["CAP_KILL"]
    assert len(caps(cap_add=("ALL",))) == len(ocigen.ALL_CAPS)
    with pytest.raises(InvalidArgument, match="unknown capability"):
        caps(cap_add=("NOPE",))


def test_working_dir_and_stop_signal_from_image():
    spec = ContainerSpec(image="x")
    assert ocigen.working_dir(spec, IMAGE) == "/srv"
    assert ocigen.stop_signal(spec, IMAGE) == "SIGQUIT"
    assert ocigen.stop_signal(spec.with_(stop_signal="SIGINT"), IMAGE) == "SIGINT"


def test_memory_swap_rules():
    res = lambda **kw: ocigen._resources(ContainerSpec(image="x", resources=Resources(**kw)), ctx())  # noqa
    assert res(memory=100)["memory"] == {"limit": 100, "swap": 200}
    assert res(memory=100, memory_swap=-1)["memory"]["swap"] == -1
    assert res(memory=100, memory_swap=150)["memory"]["swap"] == 150
    no_swap = ocigen._resources(ContainerSpec(image="x", resources=Resources(memory=100)), ctx(swap_accounting=False))
    assert no_swap["memory"] == {"limit": 100}


def test_join_other_namespaces():
    spec = ContainerSpec(image="x", network_mode="container:db")
    doc = ocigen.generate(spec, IMAGE, ctx(namespace_paths=(("network", "/proc/42/ns/net"),)))
    assert {"type": "network", "path": "/proc/42/ns/net"} in doc["linux"]["namespaces"]


def test_spec_json_roundtrip():
    spec = CASES["limits-security"][0].with_(restart=RestartPolicy("on-failure", 3),
                                              mounts=(Mount("bind", "/data", "/srv/data", ("ro",)),))
    assert ContainerSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_host_devices_only_with_privileged():
    host = (HostDevice("/dev/loop0", "b", 7, 0, 0o660, "rwm", 0, 6),)
    plain = ocigen.generate(ContainerSpec(image="busybox"), IMAGE, ctx(host_devices=host))
    assert "devices" not in plain["linux"]
    privileged = ocigen.generate(ContainerSpec(image="busybox", security=Security(privileged=True)), IMAGE,
                                 ctx(host_devices=host))
    assert privileged["linux"]["devices"] == [{"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0,
                                               "fileMode": 0o660, "uid": 0, "gid": 6}]
    assert privileged["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]


def test_console_size_only_for_a_tty_with_a_known_size():
    process = lambda tty, **kw: ocigen.generate(ContainerSpec(image="x", tty=tty), {"Cmd": ["sh"]},  # noqa: E731
                                                ctx(**kw))["process"]
    assert process(True, console_size=(33, 101))["consoleSize"] == {"height": 33, "width": 101}
    assert "consoleSize" not in process(True)
    assert "consoleSize" not in process(False, console_size=(33, 101))
