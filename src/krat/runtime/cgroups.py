"""Cgroups v1 and v2: files from linux.resources (pure), and a manager that acts on them.

v1 (and hybrid hosts, where the unified mount carries no controllers) keeps one
directory per mounted hierarchy; v2 one directory in /sys/fs/cgroup. The container's
cgroup is `cgroupsPath` below each hierarchy's root (default /krat/<id>). Device rules
are files on v1 and an eBPF program on v2 (devices_bpf.py).

$KRAT_CGROUP2_ROOT names a cgroup2 directory (a cgroup2 mount, or a cgroup below one) to
use as the v2 hierarchy's root instead: on a hybrid host that is systemd's
/sys/fs/cgroup/unified, whose core files (cgroup.procs, cgroup.freeze, cgroup.kill) work
even with no controllers enabled. Meant for such hosts and for tests of the v2 path; the
root is recorded with each container, so later operations need not see the variable.
"""

from __future__ import annotations

import errno
import os
import time

from krat.errors import Conflict, InvalidArgument
from krat.oci.records import record
from krat.runtime.files import read_file
TYPE_CHECKING = False  # typing is not imported for this: `krat-runtime state` stays light
if TYPE_CHECKING:
    from krat.oci.linux import DeviceRule, Resources

CGROUP_ROOT = "/sys/fs/cgroup"
ROOT_ENV = "KRAT_CGROUP2_ROOT"
UNLIMITED = -1


def cpu_weight(shares: int) -> int:
    """cpu.shares (2..262144, default 1024) -> cpu.weight (1..10000, default 100), log-quadratic like runc."""
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    import math   # here: only a v2 cpu.shares limit needs it, the monitor and its runtime child load cgroups

    log = math.log2(shares)
    return int(math.ceil(10 ** ((log * log + 125 * log) / 612.0 - 7.0 / 34.0)))


def _device_line(rule: DeviceRule) -> str:
    major = "*" if rule.major is None or rule.major < 0 else str(rule.major)
    minor = "*" if rule.minor is None or rule.minor < 0 else str(rule.minor)
    if rule.type == "a":
        return "a"
    return f"{rule.type} {major}:{minor} {rule.access}"


# Devices every container may use whatever its rules say (the spec's default devices,
# /dev/console, ptmx and pts), and mknod of any node: runc appends the same list.
def always_allowed() -> tuple[DeviceRule, ...]:
    from krat.oci.linux import DeviceRule

    return (DeviceRule(True, "c", None, None, "m"), DeviceRule(True, "b", None, None, "m"),
            DeviceRule(True, "c", 1, 3), DeviceRule(True, "c", 1, 5), DeviceRule(True, "c", 1, 7),
            DeviceRule(True, "c", 1, 8), DeviceRule(True, "c", 1, 9), DeviceRule(True, "c", 5, 0),
            DeviceRule(True, "c", 5, 1), DeviceRule(True, "c", 5, 2), DeviceRule(True, "c", 136, None),
            DeviceRule(True, "c", 10, 200))


def v1_values(res: Resources, has_memsw: bool = True) -> list[tuple[str, str, str]]:
    """(controller, file, value) in the order they must be written."""
    out: list[tuple[str, str, str]] = []
    if res.devices:
        for rule in res.devices + always_allowed():
            out.append(("devices", "devices.allow" if rule.allow else "devices.deny", _device_line(rule)))
    if res.memory_limit is not None:
        out.append(("memory", "memory.limit_in_bytes", str(res.memory_limit)))
    if res.memory_swap is not None and has_memsw:
        out.append(("memory", "memory.memsw.limit_in_bytes", str(res.memory_swap)))
    if res.memory_reservation is not None:
        out.append(("memory", "memory.soft_limit_in_bytes", str(res.memory_reservation)))
    if res.cpu_shares:
        out.append(("cpu", "cpu.shares", str(res.cpu_shares)))
    if res.cpu_period:
        out.append(("cpu", "cpu.cfs_period_us", str(res.cpu_period)))
    if res.cpu_quota:
        out.append(("cpu", "cpu.cfs_quota_us", str(res.cpu_quota)))
    if res.cpuset_cpus:
        out.append(("cpuset", "cpuset.cpus", res.cpuset_cpus))
    if res.cpuset_mems:
        out.append(("cpuset", "cpuset.mems", res.cpuset_mems))
    if res.pids_limit is not None:
        out.append(("pids", "pids.max", "max" if res.pids_limit <= 0 else str(res.pids_limit)))
    return out


def v2_values(res: Resources) -> list[tuple[str, str]]:
    """(file, value) for cgroup v2; swap is converted from memory+swap to swap only."""
    out: list[tuple[str, str]] = []
    if res.memory_limit is not None:
        out.append(("memory.max", "max" if res.memory_limit < 0 else str(res.memory_limit)))
    if res.memory_swap is not None:
        if res.memory_swap < 0:
            out.append(("memory.swap.max", "max"))
        elif res.memory_limit is not None and res.memory_limit >= 0:
            if res.memory_swap < res.memory_limit:
                raise InvalidArgument("linux.resources.memory.swap: must not be below memory.limit")
            out.append(("memory.swap.max", str(res.memory_swap - res.memory_limit)))
    if res.memory_reservation is not None:
        out.append(("memory.low", str(res.memory_reservation)))
    if res.cpu_shares:
        out.append(("cpu.weight", str(cpu_weight(res.cpu_shares))))
    if res.cpu_quota or res.cpu_period:
        quota = "max" if not res.cpu_quota or res.cpu_quota < 0 else str(res.cpu_quota)
        out.append(("cpu.max", f"{quota} {res.cpu_period or 100000}"))
    if res.cpuset_cpus:
        out.append(("cpuset.cpus", res.cpuset_cpus))
    if res.cpuset_mems:
        out.append(("cpuset.mems", res.cpuset_mems))
    if res.pids_limit is not None:
        out.append(("pids.max", "max" if res.pids_limit <= 0 else str(res.pids_limit)))
    return out


def cgroup_path(cgroups_path: str, container_id: str) -> str:
    """The spec's cgroupsPath as an absolute path below each hierarchy root."""
    if not cgroups_path:
        return f"/krat/{container_id}"
    if ".." in cgroups_path.split("/"):
        raise InvalidArgument(f"linux.cgroupsPath {cgroups_path!r}: must not contain '..'")
    if ":" in cgroups_path and not cgroups_path.startswith("/"):
        # systemd's slice:prefix:name (runc --systemd-cgroup); krat uses cgroupfs.
        _slice, prefix, name = (cgroups_path.split(":") + ["", ""])[:3]
        return f"/{prefix}-{name}.scope" if prefix else f"/{name}"
    return "/" + cgroups_path.strip("/")


@record(frozen=True)
class Hierarchy:
    mountpoint: str
    controllers: tuple[str, ...]  # ("cpu", "cpuacct") or ("name=systemd",); () for cgroup2
    options: str  # the super options to mount it again inside a container


_host: list[Hierarchy] | None = None


def hierarchies(mountinfo: str | None = None) -> list[Hierarchy]:
    """The cgroup mounts of this host, from /proc/self/mountinfo (or the given text).

    The host's are read once per process, as runc does: cgroup hierarchies are mounted at
    boot, and a runtime process would otherwise parse mountinfo for every Cgroup it makes
    (create made three, start one more)."""
    global _host
    if mountinfo is None:
        if _host is None:
            _host = hierarchies(_read("/proc/self/mountinfo"))
        return list(_host)
    out = []
    for line in mountinfo.splitlines():
        if " - cgroup" not in line:
            continue   # most of a host's mounts: not worth splitting
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(rfields) < 3 or rfields[0] not in ("cgroup", "cgroup2"):
            continue
        if rfields[0] == "cgroup2":
            out.append(Hierarchy(fields[4], (), ""))
            continue
        opts = [o for o in rfields[2].split(",") if o not in ("rw", "ro")]
        out.append(Hierarchy(fields[4], tuple(opts), ",".join(opts)))
    return out


def is_v2(root: str = CGROUP_ROOT) -> bool:
    return os.path.exists(os.path.join(root, "cgroup.controllers"))


def configured_root() -> str:
    """The hierarchy root new containers get: $KRAT_CGROUP2_ROOT when set, else /sys/fs/cgroup."""
    root = os.environ.get(ROOT_ENV, "")
    if not root:
        return CGROUP_ROOT
    root = os.path.normpath(root)
    if not os.path.isabs(root) or not is_v2(root):
        raise InvalidArgument(f"{ROOT_ENV}={root}: not a cgroup2 directory (it has no cgroup.controllers)")
    return root


def _makedirs(d: str) -> None:
    try:
        os.mkdir(d)   # the usual case: the parent is there (os.makedirs would stat it first)
        return
    except FileExistsError:
        if os.path.isdir(d):
            return
        raise
    except FileNotFoundError:
        pass
    for _ in range(3):  # an empty parent may be removed by someone else between our two mkdirs
        try:
            os.makedirs(d, exist_ok=True)
            return
        except FileNotFoundError:
            continue
    os.makedirs(d, exist_ok=True)


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read_or_empty(path: str) -> str:
    try:
        return _read(path)
    except FileNotFoundError:
        return ""


def join_self(dirs: list[str]) -> None:
    """Move the calling process, which must be single-threaded (a fresh fork is), into `dirs`.
    v1: "0" into each `tasks` file moves just the current thread, and the kernel then skips
    the global threadgroup lock whose first taking after a quiet spell waits for an RCU grace
    period (cgroup_procs_write_start; 10-20 ms here, against 0.3 ms). v2 has no `tasks`
    in a domain cgroup: cgroup.procs with the pid (see cgroupwarm for that wait)."""
    me = str(os.getpid()).encode()
    for d in dirs:  # os.open: a text-mode open() adds 5 syscalls to each of these
        try:
            fd = os.open(os.path.join(d, "tasks"), os.O_WRONLY | os.O_CLOEXEC)
            data = b"0"
        except FileNotFoundError:
            fd = os.open(os.path.join(d, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
            data = me
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def _read(path: str) -> str:
    """A (small, kernel-made) file's text (see files.read_file)."""
    return read_file(path).decode()


class Cgroup:
    """One container's cgroup on this host (v1: a directory per hierarchy; v2: one)."""

    def __init__(self, path: str, root: str = CGROUP_ROOT) -> None:
        self.path = path
        self.root = root
        self.v2 = is_v2(root)
        if self.v2:
            self.dirs = {"": root + path}
        else:
            # Hybrid hosts: the empty cgroup2 mount carries no controllers; leave it alone.
            self.dirs = {",".join(h.controllers): h.mountpoint + path
                         for h in hierarchies() if h.controllers}

    def dir_for(self, controller: str) -> str | None:
        if self.v2:
            return self.dirs[""]
        for key, d in self.dirs.items():
            if controller in key.split(","):
                return d
        return None

    def create(self) -> None:
        for key, d in self.dirs.items():
            if self.v2:
                self._enable_v2_controllers(d)
            _makedirs(d)
            if "cpuset" in key.split(","):
                self._fill_cpuset(d)

    def _enable_v2_controllers(self, leaf: str) -> None:
        parts = self.path.strip("/").split("/")
        current = self.root
        wanted = _read(os.path.join(current, "cgroup.controllers")).split()
        for part in parts:
            control = " ".join("+" + c for c in wanted if c in ("cpu", "cpuset", "memory", "pids", "io"))
            try:
                _write(os.path.join(current, "cgroup.subtree_control"), control)
            except OSError:
                pass  # a controller the parent cannot delegate: limits on it will fail clearly later
            current = os.path.join(current, part)
            os.makedirs(current, exist_ok=True)

    @staticmethod
    def _fill_cpuset(leaf: str) -> None:
        """A new v1 cpuset is empty and refuses tasks: inherit cpus and mems downwards, from
        the nearest ancestor that has them (each directory below it is given its values, as
        each would take its parent's). The directories exist: create() made the leaf, and a
        cgroup that holds one cannot be removed."""
        chain = []
        d = leaf
        while not (cpus := _read_or_empty(os.path.join(d, "cpuset.cpus")).strip()):
            chain.append(d)
            d = os.path.dirname(d)
        if not chain:
            return
        mems = _read(os.path.join(d, "cpuset.mems")).strip()
        for child in reversed(chain):
            _write(os.path.join(child, "cpuset.cpus"), cpus)
            _write(os.path.join(child, "cpuset.mems"), mems)

    def apply(self, res: Resources) -> None:
        if self.v2:
            values = v2_values(res)
            self._check_controllers(name for name, _ in values)
            for name, value in values:
                if name == "memory.swap.max" and not os.path.exists(os.path.join(self.dirs[""], name)):
                    continue  # no swap accounting in this kernel: the memory limit alone applies
                self._set(self.dirs[""], name, value)
            if res.devices:
                from krat.runtime import devices_bpf  # v2 has no devices.allow: an eBPF program does it

                devices_bpf.attach(self.dirs[""], res.devices + always_allowed())
            return
        memory = self.dir_for("memory")
        has_memsw = bool(memory) and os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes"))
        for controller, name, value in v1_values(res, has_memsw):
            d = self.dir_for(controller)
            if d is not None:
                self._set(d, name, value)

    def _check_controllers(self, names) -> None:
        """A limit whose controller the parent does not delegate has no file: say which one is missing."""
        try:
            available = _read(os.path.join(self.dirs[""], "cgroup.controllers")).split()
        except OSError:
            return
        for name in names:
            controller = name.split(".")[0]
            if controller not in available:
                raise InvalidArgument(
                    f"linux.resources: cannot set {name}: the {controller} controller is not enabled in "
                    f"cgroup2 {self.root} (enabled: {' '.join(available) or 'none'})")

    @staticmethod
    def _set(d: str, name: str, value: str) -> None:
        try:
            _write(os.path.join(d, name), value)
        except OSError as err:
            raise InvalidArgument(f"linux.resources: cannot set {name} to {value}: {err.strerror}") from err

    def holds(self, pid: int) -> bool:
        """Is `pid` in every directory of this cgroup (e.g. a creator that entered it early)?"""
        me = str(pid)
        try:
            for d in self.dirs.values():
                if me not in _read(os.path.join(d, "cgroup.procs")).split():
                    return False
        except OSError:
            return False
        return bool(self.dirs)

    def leave(self) -> None:
        """Move the calling process to the top of each of its hierarchies: the one cgroup that
        may always hold processes (v2's no-internal-processes rule included)."""
        mounts = [h.mountpoint for h in hierarchies()]
        me = str(os.getpid())
        for d in self.dirs.values():
            top = max((m for m in mounts if d.startswith(m + "/")), key=len, default=None)
            if top is not None:
                try:
                    _write(os.path.join(top, "cgroup.procs"), me)
                except OSError:
                    pass

    def join(self, pid: int) -> None:
        if pid == os.getpid():
            join_self(list(self.dirs.values()))
            return
        for d in self.dirs.values():
            _write(os.path.join(d, "cgroup.procs"), str(pid))

    def procs(self) -> list[int]:
        d = self.dir_for("pids") or self.dir_for("freezer") or next(iter(self.dirs.values()))
        try:
            return [int(x) for x in _read(os.path.join(d, "cgroup.procs")).split()]
        except FileNotFoundError:
            return []

    def freeze(self, frozen: bool) -> None:
        if self.v2:
            _write(os.path.join(self.dirs[""], "cgroup.freeze"), "1" if frozen else "0")
            for _ in range(1000):  # the kernel reports completion in cgroup.events
                if self.frozen() == frozen:
                    return
                time.sleep(0.001)
            raise Conflict(f"cannot {'freeze' if frozen else 'thaw'} cgroup {self.path}")
        d = self.dir_for("freezer")
        if d is None:
            raise Conflict("cannot pause: the freezer cgroup controller is not mounted")
        want = "FROZEN" if frozen else "THAWED"
        for _ in range(1000):
            _write(os.path.join(d, "freezer.state"), want)
            if _read(os.path.join(d, "freezer.state")).strip() == want:
                return
            time.sleep(0.001)
        raise Conflict(f"cannot {'freeze' if frozen else 'thaw'} cgroup {self.path}")

    def frozen(self) -> bool:
        try:
            if self.v2:
                return "frozen 1" in _read(os.path.join(self.dirs[""], "cgroup.events"))
            d = self.dir_for("freezer")
            return d is not None and _read(os.path.join(d, "freezer.state")).strip() == "FROZEN"
        except OSError:
            return False

    def oom_kills(self) -> int:
        """How many processes the OOM killer took from this cgroup (memory.events / oom_control)."""
        d = self.dir_for("memory")
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            text = _read(os.path.join(d or "", name))
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def destroy(self) -> None:
        for d in self.dirs.values():
            for _ in range(1000):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as err:
                    if err.errno != errno.EBUSY:
                        raise
                    time.sleep(0.005)  # the last task is still exiting
            else:
                raise Conflict(f"cgroup {d} is still busy: a process of the container did not exit")
