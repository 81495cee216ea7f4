"""The `linux` section of the OCI runtime spec: namespaces, id maps, devices, resources, seccomp."""

from __future__ import annotations

from dataclasses import dataclass, field
TYPE_CHECKING = False  # typing (and re) cost every command ~3 ms at start-up
if TYPE_CHECKING:
    from typing import Any

from krat.oci._json import _bool, _fail, _int, _list, _obj, _prune, _str, _strs

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
PROPAGATIONS = ("", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable")
SECCOMP_OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
               "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")
SECCOMP_ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
                   "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")


@dataclass(frozen=True)
class Namespace:
    """One entry of linux.namespaces (a path means: join that namespace)."""

    type: str
    path: str = ""

    @classmethod
    def from_json(cls, d: Any, where: str) -> "Namespace":
        d = _obj(d, where)
        kind = _str(d.get("type"), f"{where}.type")
        if kind not in NAMESPACE_TYPES:
            raise _fail(f"{where}.type", f"unknown namespace {kind!r} (expected one of {', '.join(NAMESPACE_TYPES)})")
        return cls(kind, _str(d.get("path"), f"{where}.path"))

    def to_json(self) -> dict:
        return _prune({"type": self.type, "path": self.path})


@dataclass(frozen=True)
class IdMapping:
    """One entry of linux.uidMappings / gidMappings."""

    container_id: int
    host_id: int
    size: int

    @classmethod
    def from_json(cls, d: Any, where: str) -> "IdMapping":
        d = _obj(d, where)
        size = _int(d.get("size"), f"{where}.size", 0)
        if not size or size < 1:
            raise _fail(f"{where}.size", "must be at least 1")
        return cls(_int(d.get("containerID"), f"{where}.containerID", 0),  # type: ignore[arg-type]
                   _int(d.get("hostID"), f"{where}.hostID", 0), size)  # type: ignore[arg-type]

    def to_json(self) -> dict:
        return {"containerID": self.container_id, "hostID": self.host_id, "size": self.size}


@dataclass(frozen=True)
class Device:
    """A device node to create in the container (linux.devices)."""

    path: str
    type: str
    major: int
    minor: int
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None

    @classmethod
    def from_json(cls, d: Any, where: str) -> "Device":
        d = _obj(d, where)
        kind = _str(d.get("type"), f"{where}.type")
        if kind not in ("c", "b", "u", "p"):
            raise _fail(f"{where}.type", f"expected c, b, u or p, not {kind!r}")
        path = _str(d.get("path"), f"{where}.path")
        if not path.startswith("/"):
            raise _fail(f"{where}.path", f"must be an absolute path, not {path!r}")
        return cls(path, kind, _int(d.get("major"), f"{where}.major", 0), _int(d.get("minor"), f"{where}.minor", 0),  # type: ignore[arg-type]
                   _int(d.get("fileMode"), f"{where}.fileMode"), _int(d.get("uid"), f"{where}.uid"),
                   _int(d.get("gid"), f"{where}.gid"))

    def to_json(self) -> dict:
        out = {"path": self.path, "type": self.type, "major": self.major, "minor": self.minor,
               "fileMode": self.file_mode, "uid": self.uid, "gid": self.gid}
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class DeviceRule:
    """A device cgroup rule (linux.resources.devices); major/minor None means any."""

    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"

    @classmethod
    def from_json(cls, d: Any, where: str) -> "DeviceRule":
        d = _obj(d, where)
        kind = _str(d.get("type"), f"{where}.type", "a")
        if kind not in ("a", "c", "b"):
            raise _fail(f"{where}.type", f"expected a, c or b, not {kind!r}")
        access = _str(d.get("access"), f"{where}.access", "rwm")
        if not access or set(access) - set("rwm"):
            raise _fail(f"{where}.access", f"expected letters of rwm, not {access!r}")
        return cls(_bool(d.get("allow"), f"{where}.allow"), kind, _int(d.get("major"), f"{where}.major"),
                   _int(d.get("minor"), f"{where}.minor"), access)

    def to_json(self) -> dict:
        out: dict = {"allow": self.allow, "type": self.type, "access": self.access}
        if self.major is not None:
            out["major"] = self.major
        if self.minor is not None:
            out["minor"] = self.minor
        return out


@dataclass(frozen=True)
class Resources:
    """linux.resources, flattened: None means "leave the kernel's default"."""

    memory_limit: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None  # memory+swap total, as in the spec (-1 = unlimited)
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    devices: tuple[DeviceRule, ...] = ()

    @classmethod
    def from_json(cls, d: Any, where: str = "linux.resources") -> "Resources":
        d = _obj(d, where)
        mem, cpu, pids = (_obj(d.get(k), f"{where}.{k}") for k in ("memory", "cpu", "pids"))
        w = where
        return cls(
            memory_limit=_int(mem.get("limit"), f"{w}.memory.limit"),
            memory_reservation=_int(mem.get("reservation"), f"{w}.memory.reservation"),
            memory_swap=_int(mem.get("swap"), f"{w}.memory.swap"),
            cpu_shares=_int(cpu.get("shares"), f"{w}.cpu.shares"),
            cpu_quota=_int(cpu.get("quota"), f"{w}.cpu.quota"),
            cpu_period=_int(cpu.get("period"), f"{w}.cpu.period"),
            cpuset_cpus=_str(cpu.get("cpus"), f"{w}.cpu.cpus"),
            cpuset_mems=_str(cpu.get("mems"), f"{w}.cpu.mems"),
            pids_limit=_int(pids.get("limit"), f"{w}.pids.limit"),
            devices=tuple(DeviceRule.from_json(r, f"{w}.devices[{i}]") for i, r in enumerate(_list(d.get("devices"), w))))

    def to_json(self) -> dict:
        out = {
            "memory": _prune({"limit": self.memory_limit, "reservation": self.memory_reservation,
                              "swap": self.memory_swap}),
            "cpu": _prune({"shares": self.cpu_shares, "quota": self.cpu_quota, "period": self.cpu_period,
                           "cpus": self.cpuset_cpus, "mems": self.cpuset_mems}),
            "pids": _prune({"limit": self.pids_limit}),
            "devices": [r.to_json() for r in self.devices],
        }
        return _prune(out)


@dataclass(frozen=True)
class SeccompArg:
    """A condition on one syscall argument."""

    index: int
    value: int
    op: str
    value_two: int = 0

    @classmethod
    def from_json(cls, d: Any, where: str) -> "SeccompArg":
        d = _obj(d, where)
        op = _str(d.get("op"), f"{where}.op")
        if op not in SECCOMP_OPS:
            raise _fail(f"{where}.op", f"unknown operator {op!r}")
        index = _int(d.get("index"), f"{where}.index", 0)
        if not 0 <= index <= 5:  # type: ignore[operator]
            raise _fail(f"{where}.index", "must be 0..5")
        return cls(index, _int(d.get("value"), f"{where}.value", 0), op,  # type: ignore[arg-type]
                   _int(d.get("valueTwo"), f"{where}.valueTwo", 0))  # type: ignore[arg-type]

    def to_json(self) -> dict:
        out = {"index": self.index, "value": self.value, "op": self.op}
        if self.value_two:
            out["valueTwo"] = self.value_two
        return out


def _action(v: Any, where: str) -> str:
    action = _str(v, where)
    if action not in SECCOMP_ACTIONS:
        raise _fail(where, f"unknown action {action!r}")
    return action


@dataclass(frozen=True)
class SeccompRule:
    """One entry of linux.seccomp.syscalls."""

    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[SeccompArg, ...] = ()

    @classmethod
    def from_json(cls, d: Any, where: str) -> "SeccompRule":
        d = _obj(d, where)
        args = tuple(SeccompArg.from_json(a, f"{where}.args[{i}]") for i, a in enumerate(_list(d.get("args"), where)))
        return cls(_strs(d.get("names"), f"{where}.names"), _action(d.get("action"), f"{where}.action"),
                   _int(d.get("errnoRet"), f"{where}.errnoRet"), args)

    def to_json(self) -> dict:
        out: dict = {"names": list(self.names), "action": self.action}
        if self.errno_ret is not None:
            out["errnoRet"] = self.errno_ret
        if self.args:
            out["args"] = [a.to_json() for a in self.args]
        return out


@dataclass(frozen=True)
class Seccomp:
    """linux.seccomp: a syscall filter."""

    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    syscalls: tuple[SeccompRule, ...] = ()

    @classmethod
    def from_json(cls, d: Any, where: str = "linux.seccomp") -> "Seccomp":
        d = _obj(d, where)
        rules = tuple(SeccompRule.from_json(r, f"{where}.syscalls[{i}]") for i, r in enumerate(_list(d.get("syscalls"), where)))
        return cls(_action(d.get("defaultAction"), f"{where}.defaultAction"),
                   _int(d.get("defaultErrnoRet"), f"{where}.defaultErrnoRet"),
                   _strs(d.get("architectures"), f"{where}.architectures"), _strs(d.get("flags"), f"{where}.flags"), rules)

    def to_json(self) -> dict:
        out: dict = {"defaultAction": self.default_action}
        if self.default_errno_ret is not None:
            out["defaultErrnoRet"] = self.default_errno_ret
        if self.architectures:
            out["architectures"] = list(self.architectures)
        if self.flags:
            out["flags"] = list(self.flags)
        out["syscalls"] = [r.to_json() for r in self.syscalls]
        return out


@dataclass(frozen=True)
class Linux:
    """linux: namespaces, cgroups, devices, security."""

    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IdMapping, ...] = ()
    gid_mappings: tuple[IdMapping, ...] = ()
    devices: tuple[Device, ...] = ()
    cgroups_path: str = ""
    resources: Resources = field(default_factory=Resources)
    rootfs_propagation: str = ""
    seccomp: Seccomp | None = None
    sysctl: tuple[tuple[str, str], ...] = ()
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Any, where: str = "linux") -> "Linux":
        d = _obj(d, where)
        ns = tuple(Namespace.from_json(n, f"{where}.namespaces[{i}]") for i, n in enumerate(_list(d.get("namespaces"), where)))
        kinds = [n.type for n in ns]
        for kind in kinds:
            if kinds.count(kind) > 1:
                raise _fail(f"{where}.namespaces", f"namespace {kind!r} is listed twice")
        prop = _str(d.get("rootfsPropagation"), f"{where}.rootfsPropagation")
        if prop not in PROPAGATIONS:
            raise _fail(f"{where}.rootfsPropagation", f"unknown propagation {prop!r}")
        sysctl = _obj(d.get("sysctl"), f"{where}.sysctl")
        return cls(
            namespaces=ns,
            uid_mappings=tuple(IdMapping.from_json(m, f"{where}.uidMappings[{i}]") for i, m in enumerate(_list(d.get("uidMappings"), where))),
            gid_mappings=tuple(IdMapping.from_json(m, f"{where}.gidMappings[{i}]") for i, m in enumerate(_list(d.get("gidMappings"), where))),
            devices=tuple(Device.from_json(x, f"{where}.devices[{i}]") for i, x in enumerate(_list(d.get("devices"), where))),
            cgroups_path=_str(d.get("cgroupsPath"), f"{where}.cgroupsPath"),
            resources=Resources.from_json(d.get("resources")),
            rootfs_propagation=prop,
            seccomp=Seccomp.from_json(d["seccomp"]) if d.get("seccomp") is not None else None,
            sysctl=tuple((k, _str(v, f"{where}.sysctl.{k}")) for k, v in sysctl.items()),
            masked_paths=_strs(d.get("maskedPaths"), f"{where}.maskedPaths"),
            readonly_paths=_strs(d.get("readonlyPaths"), f"{where}.readonlyPaths"))

    def namespace(self, kind: str) -> Namespace | None:
        return next((n for n in self.namespaces if n.type == kind), None)

    def to_json(self) -> dict:
        out = {
            "namespaces": [n.to_json() for n in self.namespaces],
            "uidMappings": [m.to_json() for m in self.uid_mappings],
            "gidMappings": [m.to_json() for m in self.gid_mappings],
            "devices": [x.to_json() for x in self.devices],
            "cgroupsPath": self.cgroups_path,
            "resources": self.resources.to_json(),
            "rootfsPropagation": self.rootfs_propagation,
            "seccomp": self.seccomp.to_json() if self.seccomp else None,
            "sysctl": dict(self.sysctl),
            "maskedPaths": list(self.masked_paths),
            "readonlyPaths": list(self.readonly_paths),
        }
        return _prune(out)
