"""Docker-shaped views of containers: the `inspect` document and `ps` rows.

Front ends print these (CLI) or serve them (REST API); the shapes follow Docker's
API types so clients that key on them keep working.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from krat.engine.state import StateView, Status, epoch, human_duration, status_string

if TYPE_CHECKING:
    from krat.engine.containers import Container, ContainerService

ZERO_TIME = "0001-01-01T00:00:00Z"


def _t(stamp: str) -> str:
    return stamp or ZERO_TIME


def state_view(c: "Container") -> StateView:
    r = c.row
    return StateView(Status(r.status), r.exit_code, _t(r.started_at), _t(r.finished_at), r.restart_count)


def command_line(c: "Container", image_config: dict) -> list[str]:
    from krat.engine.ocigen import process_args

    try:
        return process_args(c.spec, image_config)
    except Exception:
        return []


def inspect_document(svc: "ContainerService", c: "Container", image_config: dict) -> dict:
    r, spec = c.row, c.spec
    status = Status(r.status)
    args = command_line(c, image_config)
    storage = svc.storage_dir(c.id)
    from krat.engine import ocigen

    hostname = spec.hostname or c.id[:12]
    config_env = ocigen.merge_env(list(image_config.get("Env") or []), list(spec.env))
    return {
        "Id": c.id,
        "Created": r.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": {
            "Status": status.value, "Running": status in (Status.RUNNING, Status.PAUSED),
            "Paused": status is Status.PAUSED, "Restarting": status is Status.RESTARTING,
            "OOMKilled": r.oom_killed, "Dead": status is Status.DEAD,
            "Pid": r.pid if status in (Status.RUNNING, Status.PAUSED) else 0,
            "ExitCode": r.exit_code, "Error": r.error,
            "StartedAt": _t(r.started_at), "FinishedAt": _t(r.finished_at),
        },
        "Image": r.image_id,
        "ResolvConfPath": os.path.join(storage, "resolv.conf"),
        "HostnamePath": os.path.join(storage, "hostname"),
        "HostsPath": os.path.join(storage, "hosts"),
        "LogPath": svc.log_path(c.id),
        "Name": "/" + r.name,
        "RestartCount": r.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config(spec),
        "GraphDriver": {"Name": "overlay2", "Data": {
            "UpperDir": os.path.join(storage, "diff"), "WorkDir": os.path.join(storage, "work"),
            "MergedDir": svc.rootfs(c.id)}},
        "Mounts": [{"Type": m.type, "Name": m.name, "Source": m.source, "Destination": m.destination,
                    "Driver": "local" if m.type == "volume" else "", "Mode": "", "RW": m.rw,
                    "Propagation": "rprivate" if m.type == "bind" else ""}
                   for m in spec.mounts if m.type != "tmpfs"],
        "Config": {
            "Hostname": hostname, "Domainname": "", "User": spec.user or image_config.get("User", ""),
            "AttachStdin": spec.open_stdin, "AttachStdout": True, "AttachStderr": True,
            "ExposedPorts": image_config.get("ExposedPorts"), "Tty": spec.tty, "OpenStdin": spec.open_stdin,
            "StdinOnce": False, "Env": config_env,
            "Cmd": list(spec.command) or (None if spec.entrypoint is not None else image_config.get("Cmd")),
            "Image": spec.image, "Volumes": image_config.get("Volumes"),
            "WorkingDir": spec.working_dir or image_config.get("WorkingDir", ""),
            "Entrypoint": (list(spec.entrypoint) or None) if spec.entrypoint is not None
            else image_config.get("Entrypoint"),
            "OnBuild": None, "Labels": {**(image_config.get("Labels") or {}), **dict(spec.labels)},
            "StopSignal": ocigen.stop_signal(spec, image_config),
            **({"StopTimeout": spec.stop_timeout} if spec.stop_timeout is not None else {}),
        },
        "NetworkSettings": {"SandboxID": "", "SandboxKey": "", "Ports": {}, "Networks": {}},
    }


def host_config(spec) -> dict:
    from krat.engine import ocigen
    from krat.engine.bundle import cgroup_root, cgroup_v2

    res, sec = spec.resources, spec.security
    network = {"default": "bridge"}.get(spec.network_mode, spec.network_mode)
    return {
        "NetworkMode": network,
        "RestartPolicy": {"Name": spec.restart.name, "MaximumRetryCount": spec.restart.max_retries},
        "AutoRemove": spec.auto_remove,
        "LogConfig": {"Type": "json-file", "Config": {"max-size": str(spec.log.max_size),
                                                       "max-file": str(spec.log.max_file)}},
        "Runtime": spec.runtime or "krat",
        "CapAdd": list(sec.cap_add) or None, "CapDrop": list(sec.cap_drop) or None,
        "Privileged": sec.privileged, "ReadonlyRootfs": sec.read_only,
        "SecurityOpt": (["no-new-privileges"] if sec.no_new_privileges else [])
        + (["seccomp=unconfined"] if sec.seccomp == "unconfined" else []) or None,
        "Init": spec.init, "PidMode": spec.pid_mode, "IpcMode": spec.ipc_mode,
        "ExtraHosts": [f"{h}:{ip}" for h, ip in spec.extra_hosts] or None,
        "Tmpfs": {m.destination: ",".join(m.options) for m in spec.mounts if m.type == "tmpfs"} or None,
        "ShmSize": spec.shm_size,
        "Memory": res.memory, "MemorySwap": res.memory_swap, "NanoCpus": res.nano_cpus,
        "CpuShares": res.cpu_shares, "PidsLimit": res.pids_limit or None,
        "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in spec.ulimits] or None,
        "Devices": [{"PathOnHost": d.path_on_host, "PathInContainer": d.path_in_container,
                     "CgroupPermissions": d.permissions} for d in spec.devices],
        "CgroupnsMode": "private" if cgroup_v2(cgroup_root(spec.runtime)) else "host",   # as ocigen makes it
        "MaskedPaths": None if sec.privileged else list(ocigen.MASKED_PATHS),
        "ReadonlyPaths": None if sec.privileged else list(ocigen.READONLY_PATHS),
        # The network and volume area's (ContainerNet.inspect), as Docker shows them without flags:
        "Binds": None, "PortBindings": {}, "PublishAllPorts": False, "Dns": [], "DnsOptions": [], "DnsSearch": [],
        "VolumesFrom": None, **UNSUPPORTED_HOST_CONFIG,
    }


# The rest of Docker's HostConfig, for the flags krat does not take: always their defaults,
# there so that templates and tools reading them find what Docker gives.
UNSUPPORTED_HOST_CONFIG = {
    "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
    "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "Cgroup": "", "CgroupParent": "",
    "ContainerIDFile": "", "CpuCount": 0, "CpuPercent": 0, "CpuPeriod": 0, "CpuQuota": 0,
    "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
    "DeviceCgroupRules": None, "DeviceRequests": None, "GroupAdd": None, "IOMaximumBandwidth": 0,
    "IOMaximumIOps": 0, "Isolation": "", "KernelMemory": 0, "KernelMemoryTCP": 0, "Links": None,
    "MemoryReservation": 0, "MemorySwappiness": None, "OomKillDisable": False, "OomScoreAdj": 0,
    "UTSMode": "", "UsernsMode": "", "VolumeDriver": "",
}


@dataclass(frozen=True)
class PsRow:
    id: str
    image: str
    command: str
    created: str        # "5 minutes ago"
    status: str         # "Up 5 minutes"
    state: str
    ports: str
    names: str
    labels: dict
    size: str = ""


def quote_command(args: list[str], truncate: bool) -> str:
    """ps's COMMAND as Docker's: the path, then the arguments, one with a space in single
    quotes; cut at 20 characters unless --no-trunc; then in double quotes (Go's Quote)."""
    text = " ".join(args[:1] + [f"'{a}'" if " " in a else a for a in args[1:]])
    return json.dumps(ellipsis(text, 20) if truncate else text, ensure_ascii=False)


def ellipsis(text: str, width: int) -> str:
    """Docker's cut of a ps cell: at most `width` characters, the last one '…' if cut."""
    return text if len(text) <= width else text[:width - 1] + "…"


def ps_row(c: "Container", image_config: dict, truncate: bool = True, now: float | None = None,
           ports: str = "") -> PsRow:
    now = time.time() if now is None else now
    created = human_duration(now - epoch(c.row.created)) + " ago"
    return PsRow(id=c.id[:12] if truncate else c.id, image=c.spec.image,
                 command=quote_command(command_line(c, image_config), truncate), created=created,
                 status=status_string(state_view(c), now), state=c.row.status, ports=ports, names=c.name,
                 labels=dict(c.spec.labels))


def shell_join(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)
