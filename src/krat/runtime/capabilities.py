"""Capability names, the masks a spec asks for, and applying them (capset, prctl)."""

from __future__ import annotations

from krat.errors import InvalidArgument
from krat.oci.process import Capabilities
from krat.oci.records import record
from krat.runtime import syscalls as sc
from krat.runtime.files import read_file

# capability(7) numbers; the kernel's cap_last_cap says which of them exist here.
CAPABILITIES = {name: number for number, name in enumerate((
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"))}


@record(frozen=True)
class CapMasks:
    """The five sets as bit masks, ready for capset and prctl (a record: cheap to define at start-up)."""

    bounding: int
    effective: int
    permitted: int
    inheritable: int
    ambient: int


def mask(names: tuple[str, ...], where: str = "process.capabilities") -> int:
    bits = 0
    for name in names:
        number = CAPABILITIES.get(name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper())
        if number is None:
            raise InvalidArgument(f"{where}: unknown capability {name!r}")
        bits |= 1 << number
    return bits


def masks(caps: Capabilities, available: int) -> CapMasks:
    """The masks for a spec, limited to what this process holds (`available`).

    Asking for a capability the runtime itself lacks (here root has no CAP_SYS_RESOURCE)
    drops it instead of failing, as Podman does for rootless containers.
    """
    m = {s: mask(getattr(caps, s), f"process.capabilities.{s}") & available
         for s in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    return CapMasks(**m)


_last: int | None = None
_held: int | None = None   # this process's bounding set, read once (drop_bounding forgets it)


def last_cap() -> int:
    """The kernel's highest capability number (a constant of the running kernel: read once)."""
    global _last
    if _last is None:
        try:
            _last = int(read_file("/proc/sys/kernel/cap_last_cap"))
        except OSError:
            return max(CAPABILITIES.values())
    return _last


def held(pid: str = "self") -> int:
    """This process's bounding set: what it can hand on. For "self" it is read once: only
    drop_bounding shrinks it (a fork inherits it, and the value with it)."""
    global _held
    if pid == "self" and _held is not None:
        return _held
    bounding = (1 << (last_cap() + 1)) - 1
    status = read_file(f"/proc/{pid}/status")
    at = status.find(b"\nCapBnd:")
    if at >= 0:
        bounding = int(status[at + 8:status.index(b"\n", at + 8)].strip(), 16)
    if pid == "self":
        _held = bounding
    return bounding


def drop_bounding(sys: sc.Syscalls, m: CapMasks, top: int) -> None:
    global _held
    _held = None
    for number in range(top + 1):
        if not m.bounding & (1 << number):
            sys.prctl(sc.PR_CAPBSET_DROP, number)


def apply_sets(sys: sc.Syscalls, m: CapMasks) -> None:
    """capset after the user switch; ambient last (it needs permitted and inheritable)."""
    sys.capset(m.effective, m.permitted, m.inheritable)
    sys.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    for number in range(64):
        if m.ambient & (1 << number) and m.inheritable & (1 << number):
            # Like runc: an ambient cap the kernel refuses is not fatal.
            try:
                sys.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, number)
            except OSError:
                pass
