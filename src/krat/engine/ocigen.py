"""The ONE place an OCI runtime config.json is made: user intent + image config + run context.

`generate()` is pure: everything it needs from the world (the resolved user, device
numbers, namespace paths of other containers, which capabilities the host has, whether
swap is accounted) arrives in `RunContext`, found by the acting code in containers.py.
Docker's defaults are reproduced exactly (moby daemon/pkg/oci/defaults.go): 14
capabilities, masked and read-only paths, default mounts, device rules, namespaces and
the PATH/HOSTNAME/TERM environment.
"""

from __future__ import annotations


from krat.engine.spec import ContainerSpec, Mount
from krat.errors import InvalidArgument
from krat.oci.records import field, record

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_PATH = "/sbin/krat-init"   # where --init's tini is bind-mounted (Docker: /sbin/docker-init)

DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

# Every capability by number (linux/capability.h), so ALL and --privileged mean "those the host has".
ALL_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# Docker's device cgroup: deny everything, allow the standard character devices, deny fuse.
DEVICE_RULES = (
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
)

RLIMITS = {"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
           "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
           "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
           "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
           "stack": "RLIMIT_STACK", "as": "RLIMIT_AS"}


@record(frozen=True)
class ProcessUser:
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()


@record(frozen=True)
class HostDevice:
    """A --device, resolved on the host: kind 'c' or 'b', numbers, mode."""

    path: str               # in the container
    kind: str
    major: int
    minor: int
    file_mode: int = 0o666
    permissions: str = "rwm"
    uid: int = 0
    gid: int = 0


@record(frozen=True)
class RunContext:
    """What the acting code found out for this start; ocigen only reads it."""

    container_id: str
    rootfs: str
    user: ProcessUser = ProcessUser()
    cgroups_path: str = ""
    etc_files: tuple[tuple[str, str], ...] = ()      # (destination, host file): hosts, hostname, resolv.conf
    namespace_paths: tuple[tuple[str, str], ...] = ()  # (type, /proc/<pid>/ns/<x>): joined, not new
    mounts: tuple[Mount, ...] = ()                   # extra mounts resolved by the volume/network areas
    devices: tuple[HostDevice, ...] = ()              # --device
    host_devices: tuple[HostDevice, ...] = ()         # the host's /dev nodes (looked up for --privileged only)
    host_caps: tuple[str, ...] = ALL_CAPS             # capabilities present in the engine's bounding set
    host_hostname: str = ""
    extra_masked: tuple[str, ...] = ()               # e.g. /sys/devices/system/cpu/cpuN/thermal_throttle
    cgroup_v2: bool = False
    swap_accounting: bool = True
    init_binary: str = "/usr/bin/tini-static"
    console_size: tuple[int, int] | None = None       # (rows, columns) of the -t caller's terminal


# --- the image config applied as Docker does ---------------------------------------------

def process_args(spec: ContainerSpec, image_config: dict) -> list[str]:
    """Entrypoint + Cmd: any --entrypoint drops the image's Cmd; '' means no entrypoint."""
    if spec.entrypoint is not None:
        entry = [a for a in spec.entrypoint]
        if entry == [""]:
            entry = []
        cmd = list(spec.command)
    else:
        entry = list(image_config.get("Entrypoint") or [])
        cmd = list(spec.command) or list(image_config.get("Cmd") or [])
    args = entry + cmd
    if not args or not args[0]:
        raise InvalidArgument("no command specified: the image has no Cmd or Entrypoint and none was given")
    return args


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """Replace by key in place, append new keys (Docker's ReplaceOrAppendEnvValues)."""
    out = list(base)
    index = {e.partition("=")[0]: i for i, e in enumerate(out)}
    for item in overrides:
        key = item.partition("=")[0]
        if key in index:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return out


def container_env(spec: ContainerSpec, image_config: dict, hostname: str) -> list[str]:
    defaults = [DEFAULT_PATH, f"HOSTNAME={hostname}"] + (["TERM=xterm"] if spec.tty else [])
    config_env = merge_env(list(image_config.get("Env") or []), list(spec.env))
    return merge_env(defaults, config_env)


def hostname_for(spec: ContainerSpec, ctx: RunContext) -> str:
    if spec.hostname:
        return spec.hostname
    if spec.network_mode == "host" and ctx.host_hostname:
        return ctx.host_hostname
    return ctx.container_id[:12]


def stop_signal(spec: ContainerSpec, image_config: dict) -> str:
    return spec.stop_signal or image_config.get("StopSignal") or "SIGTERM"


def working_dir(spec: ContainerSpec, image_config: dict) -> str:
    cwd = spec.working_dir or image_config.get("WorkingDir") or "/"
    if not cwd.startswith("/"):
        raise InvalidArgument(f"invalid working directory {cwd!r}: it must be an absolute path")
    return cwd


# --- capabilities -------------------------------------------------------------------------

def normalise_cap(name: str) -> str:
    upper = name.upper()
    if upper == "ALL":
        return upper
    full = upper if upper.startswith("CAP_") else "CAP_" + upper
    if full not in ALL_CAPS:
        raise InvalidArgument(f"unknown capability {name!r}")
    return full


def capabilities(spec: ContainerSpec, host_caps: tuple[str, ...]) -> list[str]:
    """Docker's rule: start from the defaults (or all with --cap-add ALL), drop, then add."""
    sec = spec.security
    available = [c for c in ALL_CAPS if c in host_caps]
    if sec.privileged:
        return available
    adds = [normalise_cap(c) for c in sec.cap_add]
    drops = [normalise_cap(c) for c in sec.cap_drop]
    caps = available if "ALL" in adds else list(DEFAULT_CAPS)
    caps = [] if "ALL" in drops else [c for c in caps if c not in drops]
    for cap in adds:
        if cap != "ALL" and cap not in caps:
            caps.append(cap)
    return caps


# --- the document -------------------------------------------------------------------------

def generate(spec: ContainerSpec, image_config: dict, ctx: RunContext) -> dict:
    hostname = hostname_for(spec, ctx)
    caps = capabilities(spec, ctx.host_caps)
    return {
        "ociVersion": OCI_VERSION,
        "process": _process(spec, image_config, ctx, hostname, caps),
        "root": {"path": ctx.rootfs, "readonly": spec.security.read_only},
        "hostname": hostname,
        "mounts": _mounts(spec, ctx),
        "linux": _linux(spec, ctx, caps),
    }


def _process(spec: ContainerSpec, image_config: dict, ctx: RunContext, hostname: str, caps: list[str]) -> dict:
    args = process_args(spec, image_config)
    if spec.init:
        args = [INIT_PATH, "--"] + args
    user: dict = {"uid": ctx.user.uid, "gid": ctx.user.gid}
    if ctx.user.additional_gids:
        user["additionalGids"] = list(ctx.user.additional_gids)
    process: dict = {
        "terminal": spec.tty,
        "user": user,
        "args": args,
        "env": container_env(spec, image_config, hostname),
        "cwd": working_dir(spec, image_config),
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "oomScoreAdj": 0,
    }
    if spec.tty and ctx.console_size:
        process["consoleSize"] = {"height": ctx.console_size[0], "width": ctx.console_size[1]}
    if spec.ulimits:
        process["rlimits"] = [{"type": RLIMITS[u.name], "soft": _rlim(u.soft), "hard": _rlim(u.hard)}
                              for u in spec.ulimits]
    if spec.security.no_new_privileges:
        process["noNewPrivileges"] = True
    return process


def _rlim(value: int) -> int:
    return 0xFFFFFFFFFFFFFFFF if value == -1 else value


def _shm_mount(spec: ContainerSpec, ctx: RunContext) -> dict | None:
    """/dev/shm goes with the IPC namespace, as in Docker: its own tmpfs (private, shareable),
    the host's (host), none at all (none). container:NAME gets none yet: the other
    container's tmpfs lives in its mount namespace, which a bind mount cannot reach (Docker
    keeps a shareable container's /dev/shm on the host side for that)."""
    options = ["nosuid", "noexec", "nodev"]
    if spec.ipc_mode == "none" or spec.ipc_mode.startswith("container:"):
        return None
    if spec.ipc_mode == "host":
        return {"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind", *options]}
    return {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": [*options, "mode=1777", f"size={spec.shm_size}"]}


def _mounts(spec: ContainerSpec, ctx: RunContext) -> list[dict]:
    sys_ro = [] if spec.security.privileged else ["ro"]
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev"] + sys_ro},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime"] + sys_ro},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    ]
    shm = _shm_mount(spec, ctx)
    if shm is not None:
        mounts.append(shm)
    for dest, source in ctx.etc_files:
        opts = ["rbind", "rprivate"] + (["ro"] if spec.security.read_only else [])
        mounts.append({"destination": dest, "type": "bind", "source": source, "options": opts})
    if spec.init:
        mounts.append({"destination": INIT_PATH, "type": "bind", "source": ctx.init_binary,
                       "options": ["bind", "ro"]})
    for m in tuple(spec.mounts) + tuple(ctx.mounts):
        mounts.append(_user_mount(m))
    return mounts


def _user_mount(m: Mount) -> dict:
    if m.type == "tmpfs":
        defaults = ["nosuid", "nodev", "noexec"]
        opts = list(m.options)
        if "exec" in opts:
            defaults.remove("noexec")
        if "suid" in opts:
            defaults.remove("nosuid")
        if "dev" in opts:
            defaults.remove("nodev")
        opts = [o for o in opts if o not in ("exec", "suid", "dev")]
        return {"destination": m.destination, "type": "tmpfs", "source": "tmpfs", "options": defaults + opts}
    opts = ["rbind"] + list(m.options)
    if not m.rw and "ro" not in opts:
        opts.append("ro")
    return {"destination": m.destination, "type": "bind", "source": m.source, "options": opts}


def _namespaces(spec: ContainerSpec, ctx: RunContext) -> list[dict]:
    joined = dict(ctx.namespace_paths)
    wanted = ["pid", "network", "ipc", "uts", "mount"]
    if ctx.cgroup_v2:
        wanted.append("cgroup")
    skip = set()
    if spec.pid_mode == "host":
        skip.add("pid")
    if spec.network_mode == "host":
        skip.add("network")
    if spec.ipc_mode == "host":
        skip.add("ipc")
    out = []
    for kind in wanted:
        if kind in skip:
            continue
        ns = {"type": kind}
        if kind in joined:
            ns["path"] = joined[kind]
        out.append(ns)
    return out


def _resources(spec: ContainerSpec, ctx: RunContext) -> dict:
    res = spec.resources
    out: dict = {"devices": _device_rules(spec, ctx)}
    if res.memory:
        memory: dict = {"limit": res.memory}
        if ctx.swap_accounting:
            if res.memory_swap == -1:
                memory["swap"] = -1
            elif res.memory_swap:
                memory["swap"] = res.memory_swap
            else:
                memory["swap"] = 2 * res.memory
        out["memory"] = memory
    cpu: dict = {}
    if res.cpu_shares:
        cpu["shares"] = res.cpu_shares
    if res.nano_cpus:
        cpu["period"] = 100000
        cpu["quota"] = res.nano_cpus * 100000 // 1_000_000_000
    if cpu:
        out["cpu"] = cpu
    if res.pids_limit:
        out["pids"] = {"limit": res.pids_limit}
    return out


def _device_rules(spec: ContainerSpec, ctx: RunContext) -> list[dict]:
    if spec.security.privileged:
        return [{"allow": True, "access": "rwm"}]
    rules = [dict(r) for r in DEVICE_RULES]
    for d in ctx.devices:
        rules.append({"allow": True, "type": d.kind, "major": d.major, "minor": d.minor, "access": d.permissions})
    return rules


def container_devices(spec: ContainerSpec, ctx: RunContext) -> list[HostDevice]:
    """--device nodes, and with --privileged every device node of the host, as Docker; a --device
    for the same path wins."""
    out = list(ctx.devices)
    if spec.security.privileged:
        taken = {d.path for d in out}
        out += [d for d in ctx.host_devices if d.path not in taken]
    return out


def _linux(spec: ContainerSpec, ctx: RunContext, caps: list[str]) -> dict:
    linux: dict = {
        "resources": _resources(spec, ctx),
        "namespaces": _namespaces(spec, ctx),
    }
    if ctx.cgroups_path:
        linux["cgroupsPath"] = ctx.cgroups_path
    devices = container_devices(spec, ctx)
    if devices:
        linux["devices"] = [{"path": d.path, "type": d.kind, "major": d.major, "minor": d.minor,
                             "fileMode": d.file_mode, "uid": d.uid, "gid": d.gid} for d in devices]
    if not spec.security.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS) + list(ctx.extra_masked)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    profile = seccomp_profile(spec, caps)
    if profile is not None:
        linux["seccomp"] = profile
    return linux


# --- seccomp -------------------------------------------------------------------------------

def seccomp_profile(spec: ContainerSpec, caps: list[str]) -> dict | None:
    """The linux.seccomp document for this container, or None for unconfined.

    Docker's default profile lives in krat.engine.profiles (written with the runtime);
    until it is there, containers run without a filter rather than with a wrong one.
    """
    sec = spec.security
    if sec.privileged or sec.seccomp == "unconfined":
        return None
    if sec.seccomp not in ("", "default"):
        import json

        return _custom_profile(json.loads(sec.seccomp), caps)
    try:
        from krat.engine.profiles import default_seccomp
    except ImportError:
        return None
    return default_seccomp(caps)


def _custom_profile(doc: dict, caps: list[str]) -> dict:
    if "syscalls" in doc and "defaultAction" in doc and not any("names" in s for s in doc["syscalls"]):
        return doc  # already the OCI shape
    try:
        from krat.engine.profiles import from_docker_profile
    except ImportError:
        # Docker's shape (names lists): the OCI shape uses the same keys but no filters by caps.
        return {"defaultAction": doc.get("defaultAction", "SCMP_ACT_ERRNO"),
                "syscalls": [{k: v for k, v in s.items() if k in ("names", "action", "args", "errnoRet")}
                             for s in doc.get("syscalls", []) if not s.get("includes") and not s.get("excludes")]}
    return from_docker_profile(doc, caps)
