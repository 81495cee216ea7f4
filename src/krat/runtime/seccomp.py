"""linux.seccomp -> a kernel filter, through libseccomp (bound with ctypes; bpf.Program loads it).

`plan` is the pure part: the spec's rules as (action value, syscall, conditions),
split the way runc splits them (conditions on distinct arguments are ANDed in one
rule; several conditions on the same argument become separate rules, i.e. ORed).
`compile_bpf` turns a plan into a BPF program with libseccomp, before pivot_root (the
library lives on the host); `Filter` keeps the program (cached by content) and loads it
with prctl(PR_SET_SECCOMP) at the end of init.
"""

from __future__ import annotations

import os

from krat.errors import InvalidArgument
from krat.oci import jsoncodec as json
from krat.oci.records import record
from krat.runtime import libc
from krat.runtime.bpf import Program

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes

    from krat.oci.linux import Seccomp, SeccompArg

EPERM = 1
ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000
ACT_TRACE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000
ACT_NOTIFY = 0x7FC00000

OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
       "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}

_FLTATR_CTL_NNP = 3  # libseccomp sets no_new_privs on load unless told not to
_FLTATR_CTL_OPTIMIZE = 8  # 2: syscalls in a binary tree (libseccomp >= 2.5)
_BINARY_TREE_FROM = 8  # rules; libseccomp < 2.5.4 mishandles a tree without rules (its issue 370)
_ARCH_NAMES = {"SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32",
               "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_PPC64LE": "ppc64le",
               "SCMP_ARCH_S390X": "s390x", "SCMP_ARCH_RISCV64": "riscv64"}


def action_value(action: str, errno_ret: int | None) -> int:
    if action == "SCMP_ACT_ERRNO":
        return ACT_ERRNO | ((EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if action == "SCMP_ACT_TRACE":
        return ACT_TRACE | ((EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    values = {"SCMP_ACT_KILL": ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": ACT_KILL_THREAD,
              "SCMP_ACT_KILL_PROCESS": ACT_KILL_PROCESS, "SCMP_ACT_TRAP": ACT_TRAP, "SCMP_ACT_LOG": ACT_LOG,
              "SCMP_ACT_ALLOW": ACT_ALLOW, "SCMP_ACT_NOTIFY": ACT_NOTIFY}
    if action not in values:
        raise InvalidArgument(f"linux.seccomp: unsupported action {action!r}")
    return values[action]


@record(frozen=True)
class Condition:
    index: int
    op: int
    value: int
    value_two: int


@record(frozen=True)
class FilterRule:
    action: int
    syscall: str
    conditions: tuple[Condition, ...] = ()


@record(frozen=True)
class FilterPlan:
    default_action: int
    architectures: tuple[str, ...]
    rules: tuple[FilterRule, ...]


def _conditions(args: tuple[SeccompArg, ...]) -> list[tuple[Condition, ...]]:
    conds = [Condition(a.index, OPS[a.op], a.value, a.value_two) for a in args]
    if len({c.index for c in conds}) == len(conds):
        return [tuple(conds)]
    return [(c,) for c in conds]


def plan(spec: Seccomp) -> FilterPlan:
    default = action_value(spec.default_action, spec.default_errno_ret)
    rules: list[FilterRule] = []
    for rule in spec.syscalls:
        action = action_value(rule.action, rule.errno_ret)
        if action == default:
            continue  # libseccomp refuses a rule that repeats the default
        for name in rule.names:
            for conds in _conditions(rule.args):
                rules.append(FilterRule(action, name, conds))
    arches = tuple(_ARCH_NAMES.get(a, a.removeprefix("SCMP_ARCH_").lower()) for a in spec.architectures)
    return FilterPlan(default, arches, tuple(rules))


_lib: ctypes.CDLL | None = None
# struct scmp_arg_cmp, made with _lib: only a compile needs it (a profile not in the cache),
# and this module is imported by every runtime child before it says "ready" (~30 us).
_ArgCmp: type | None = None


def _libseccomp() -> ctypes.CDLL:
    global _lib, _ArgCmp
    if _lib is None:
        import ctypes  # argtypes and restype: only to compile a profile not in the cache

        class ArgCmp(libc.Structure):
            _fields_ = [("arg", libc.c_uint), ("op", libc.c_int), ("datum_a", libc.c_uint64),
                        ("datum_b", libc.c_uint64)]

        try:
            lib = ctypes.CDLL("libseccomp.so.2")
        except OSError as err:
            raise InvalidArgument("linux.seccomp: libseccomp.so.2 is not installed (apt-get install libseccomp2)") from err
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(ArgCmp)]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        _ArgCmp = ArgCmp
        _lib = lib
    return _lib


_CACHE_FORMAT = b"krat-bpf-2"  # 2: binary-tree programs


def compile_bpf(p: FilterPlan) -> bytes:
    """The classic BPF program libseccomp generates for a plan (the costly part: ~15 ms for Docker's)."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(p.default_action)
    if not ctx:
        raise InvalidArgument("linux.seccomp: seccomp_init failed")
    try:
        lib.seccomp_attr_set(ctx, _FLTATR_CTL_NNP, 0)  # no_new_privs only when process.noNewPrivileges says
        if len(p.rules) >= _BINARY_TREE_FROM:
            # The same decisions, reached in O(log n) jumps instead of a linear scan: the kernel
            # checks and pre-evaluates the program at load (0.7 -> 0.25 ms for the default
            # profile) and every syscall in the container runs fewer instructions (runc does
            # the same). An older libseccomp refuses the attribute: the linear program is fine.
            lib.seccomp_attr_set(ctx, _FLTATR_CTL_OPTIMIZE, 2)
        for arch in p.architectures:
            token = lib.seccomp_arch_resolve_name(arch.encode())
            if token:
                lib.seccomp_arch_add(ctx, token)  # -EEXIST for the native one: fine
        for rule in p.rules:
            _add(lib, ctx, rule)
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc < 0:
                raise InvalidArgument(f"linux.seccomp: cannot generate the filter: error {-rc}")
            return os.pread(fd, os.fstat(fd).st_size, 0)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


def _add(lib: ctypes.CDLL, ctx: int, rule: FilterRule) -> None:
    nr = lib.seccomp_syscall_resolve_name(rule.syscall.encode())
    if nr < 0:
        return  # unknown on this architecture or to this libseccomp: runc skips these too
    array = (_ArgCmp * max(1, len(rule.conditions)))()
    for i, c in enumerate(rule.conditions):
        array[i] = _ArgCmp(c.index, c.op, c.value, c.value_two)
    rc = lib.seccomp_rule_add_array(ctx, rule.action, nr, len(rule.conditions), array)
    if rc < 0:
        raise InvalidArgument(f"linux.seccomp: cannot add a rule for {rule.syscall}: error {-rc}")


class Filter(Program):
    """A profile's compiled program, loaded later with prctl (after the last syscall it would forbid).

    Compiled programs are cached by the profile's content under `cache_dir`, so the next
    container with the same profile skips libseccomp entirely (Podman precompiles too).
    """

    def __init__(self, spec: Seccomp, cache_dir: str | None = None) -> None:
        super().__init__(_cached(spec, cache_dir))


def default_cache_dir() -> str:
    """Compiled filters are derived data keyed by content: one cache per user, on tmpfs.

    Not under the state root: that holds containers only (callers check it empties).
    """
    if os.environ.get("KRAT_RUNTIME_CACHE_DIR"):
        return os.environ["KRAT_RUNTIME_CACHE_DIR"]
    if os.geteuid() == 0:
        return "/run/krat-runtime-cache"
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/krat-runtime-{os.geteuid()}", "krat-runtime-cache")


def _cached(spec: Seccomp, cache_dir: str | None) -> bytes:
    if not cache_dir:
        return compile_bpf(plan(spec))
    try:
        from _blake2 import blake2b  # the builtin module: hashlib would load OpenSSL
    except ImportError:
        from hashlib import blake2b
    text = json.dumps(spec.to_json(), sort_keys=True).encode()
    key = blake2b(_CACHE_FORMAT + os.uname().machine.encode() + text, digest_size=20).hexdigest()
    path = os.path.join(cache_dir, key + ".bpf")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        pass
    bpf = compile_bpf(plan(spec))
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(bpf)
        os.rename(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs time
    return bpf
