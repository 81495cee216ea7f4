"""The container's init, forked before create knows the bundle (by a caller that waits for it).

An early monitor waits 10-20 ms for "go" while the CLI prepares the bundle: for a
foreground `run` it creates the container itself (engine.runtimes.create_ahead), for a
detached one its pre-forked create child does (engine.runtimes.prefork). In that time
`fork_early` forks the init ahead: into a new pid namespace (as spawn's direct path does:
Docker's default and krat's), in the container's cgroup (entered early by the create
child, creation.enter_cgroup; or made by the monitor, which stays outside, and entered by
the init itself, creation.make_cgroup), and with new
network (with `lo` up), uts, ipc and (on a cgroup v2 host) cgroup namespaces made ahead too
(undone by setns to the host's where the spec asks for none, replaced by setns where it
gives a path; one the spec wants but was not made ahead is made after the request). The mount
namespace is made after the request: the bundle's root filesystem is mounted on the
host after this fork, and a copy taken now would not see it. While it waits, it runs its
parse and planning code once over a sample spec (_warm_up), so the real ones, after the
request, are not a fresh fork's first (and slowest) run of that code.

At create the creator sends config.json's bytes (read once: both parse the same
document) with the stdio fds. Both then work at the same time: the creator on its
bookkeeping (state, cgroup limits, seccomp.bpf, exec.fifo), the init on its context,
namespaces and mounts, until it waits for the creator's "cgroup ready" before it makes
device nodes, so the cgroup's device rules are in place. It goes on (devices, pivot_root,
masks) while the creator compiles the seccomp program (or reads it from the cache) and
makes exec.fifo, and takes both (the program, exec.fifo's fd) before its seccomp step, or
before its createContainer hooks, whose conversation shares the socket. From there on it
is spawn's protocol (the sync pipe: ready, hooks, error). A spec this init cannot
serve (a user or time namespace, no new pid namespace, a pid limit under 8) is found by
both from the same pure check: the init exits, the creator forks one as usual.

Off the critical path: a fork of a Python process (~1 ms, and on a busy host many ms
when another process moves tasks between cgroups), the namespaces' unshare (~0.6 ms),
and the creator's part of create runs beside the init's.
"""

from __future__ import annotations

import _socket
import _struct as struct  # struct.py only re-exports it
import marshal
import os

from krat.oci.runtime import Spec
from krat.runtime import spawn as sp
from krat.runtime import syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.runtime.cgroups import Cgroup
    from krat.runtime.init import InitContext

# Made ahead; the spec may keep them, join others by path, or want the host's.
SPECULATIVE = {"network": sc.CLONE_NEWNET, "uts": sc.CLONE_NEWUTS, "ipc": sc.CLONE_NEWIPC,
               "cgroup": sc.CLONE_NEWCGROUP}
READY = b"R"   # the creator's "cgroup ready"
PROGRAM = b"P"   # then the seccomp program, sent with exec.fifo's O_PATH fd


class EarlyInit:
    """The creator's handle on an init forked ahead."""

    def __init__(self, pid: int, sock: _socket.socket, sync_r: int) -> None:
        self.pid = pid
        self.sock = sock
        self.sync_r = sync_r
        self.owner = os.getpid()

    def alive(self) -> bool:
        """Whether it still waits (not exited, as after a failed move into its cgroup; reaped
        here if so: this process forked it). A creator outside the cgroup asks before it
        claims it."""
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            done = self.pid
        if done:
            self.pid = 0
        return not done

    def release(self) -> None:
        """Let it go (it exits at EOF) and reap it; for a create that did not use it or failed.
        Once only: after the reap its pid may be another process's."""
        if self.sock.fileno() >= 0:
            self.sock.close()
        if self.sync_r >= 0:
            os.close(self.sync_r)
            self.sync_r = -1
        pid, self.pid = self.pid, 0
        if pid <= 0:
            return
        sp.kill_and_reap(pid)   # it may be in the middle of its steps


_early: EarlyInit | None = None


def fork_early(close: tuple[int, ...] = (), new_netns: bool = False, join: Cgroup | None = None) -> bool:
    """Fork the init ahead (the caller is single-threaded and in the container's cgroup, or
    made it and gives it as join: the init then moves itself in before anything else);
    False if this process cannot. close: the caller's fds the init must not hold.
    new_netns: make the network namespace ahead too. Only when the container is expected to
    keep it: one made for nothing is freed by the kernel's namespace worker, and the
    container's own (with its veth, which `run --rm` waits for) queues behind it (~20 ms)."""
    global _early
    from krat.runtime import capabilities as caps

    caps.held()   # read once here, for this process and (inherited) the init's context
    kinds = tuple(k for k in SPECULATIVE if (new_netns or k != "network") and (k != "cgroup" or _cgroupns_likely()))
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sync_r, sync_w = os.pipe()
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    syscalls = sc.LinuxSyscalls()
    cpus = os.sched_getaffinity(0)   # the init's, which claim narrows for a moment
    pid = 0
    try:
        try:
            syscalls.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
            syscalls.unshare(sc.CLONE_NEWPID)  # for the next child only
            pid = os.fork()
            if pid == 0:
                _serve(theirs, sync_w, (ours.detach(), sync_r, *close), kinds, cpus, join)
        except OSError:
            pid = -1   # no pid namespace or no fork for us: create forks as usual
        # Back at once: whatever this process forks later (hooks) stays in its own pid
        # namespace. Should that fail, the error goes up: nothing may be forked here then.
        syscalls.setns(own, sc.CLONE_NEWPID)
    except BaseException:
        if pid > 0:
            EarlyInit(pid, ours, sync_r).release()
        else:
            ours.close()
            os.close(sync_r)
        raise
    finally:
        os.close(own)
        os.close(sync_w)
        theirs.close()
    if pid < 0:
        ours.close()
        os.close(sync_r)
        return False
    _early = EarlyInit(pid, ours, sync_r)
    return True


def _cgroupns_likely() -> bool:
    """Whether to make a cgroup namespace ahead: on a cgroup v2 host, where Docker's specs (and
    the engine's) have one; on v1 they share the host's, and one made ahead would be undone
    with a setns after "go". Unknown (no cgroup entered early): made ahead, as before."""
    from krat.runtime import creation   # loaded: its enter_cgroup or make_cgroup ran before this

    cgroup = creation.entered_cgroup() or creation.made_cgroup()
    return cgroup is None or cgroup.v2


def release() -> None:
    """Let an unused early init go (the request never came)."""
    global _early
    if _early is not None:
        _early.release()
        _early = None


def claim(data: bytes, stdio: tuple[int, int, int] | None, container_id: str, bundle: str,
          console_socket: str | None) -> EarlyInit | None:
    """The early init for this create, sent its request; None if there is none (here).
    The creator still decides with serves(spec) whether it is used (else: release)."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    if early.owner != os.getpid() or stdio is None:
        early.release()
        return None
    blob = marshal.dumps((container_id, bundle, console_socket, data))
    _elsewhere(early.pid)
    try:
        early.sock.sendmsg([len(blob).to_bytes(4, "big") + blob],
                           [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("3i", *stdio))])
    except OSError:
        early.release()
        return None
    return early


def _elsewhere(pid: int) -> None:
    """Keep the init, about to be woken with its request, off this process' CPU for a moment.

    Woken by us, it is queued on our CPU (the scheduler's wake-affine choice, and a VM's
    kernel that packs tasks on few vCPUs), and waits there until we block, ~1-2.5 ms later,
    while another CPU idles: the two halves of create would run one after the other. The
    init restores its own CPU mask as soon as it has the request (see _serve), before
    anything of the container depends on it. One CPU, or no mask to narrow: nothing."""
    from krat.runtime import libc

    here = libc.process().sched_getcpu()
    try:
        others = os.sched_getaffinity(pid) - {here}
        if others:
            os.sched_setaffinity(pid, others)
    except OSError:
        pass


def serves(spec: Spec, pids_limit_ok: bool) -> bool:
    """Whether an early init can be this spec's, decided alike by the creator and the init
    (with: the creator entered the spec's cgroup early), before the init does anything that
    shows (it connects to the console socket)."""
    kinds = {ns.type: ns for ns in spec.linux.namespaces}
    pid = kinds.get("pid")
    return (pid is not None and not pid.path and "user" not in kinds and "time" not in kinds
            and "mount" in kinds and pids_limit_ok)


def pids_limit_ok(spec: Spec) -> bool:
    return not 0 < (spec.linux.resources.pids_limit or 0) < 8


def cgroup_ready(early: EarlyInit) -> None:
    """The cgroup is set up (its device rules too): the init may make its device nodes."""
    try:
        early.sock.send(READY)
    except OSError:
        pass   # it has gone: its error, if any, is on the sync pipe


def finish(early: EarlyInit, fifo_fd: int, bpf: bytes, on_hooks, meanwhile=None) -> int:
    """After cgroup_ready: hand the init exec.fifo and the seccomp program (compiled or read
    from the cache here already), run meanwhile() while it finishes its steps, then follow
    it as spawn does until it is ready (its pid) or has failed (the error; the caller
    releases it)."""
    message = PROGRAM + len(bpf).to_bytes(4, "big") + bpf
    try:
        early.sock.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", fifo_fd))])
    except OSError:
        pass   # it has gone: its error, if any, is on the sync pipe
    if meanwhile is not None:
        meanwhile()
    _, error = sp._converse(early.sync_r, early.sock.fileno(), sp.Launch(stdio=None, cgroup_dirs=[]), on_hooks,
                            early.pid)
    if error is not None:
        raise error
    early.sock.close()
    os.close(early.sync_r)
    early.sync_r = -1
    return early.pid


# --- the init's side ---------------------------------------------------------------------

def _serve(sock: _socket.socket, sync_w: int, close: tuple[int, ...], kinds: tuple[str, ...],
           cpus: set[int], join: Cgroup | None = None) -> None:
    """The early init: into its cgroup (join: the creator made it and stays outside),
    namespaces ahead, then wait for the request and become the container. cpus: its CPU
    mask as forked (see _elsewhere). A move into the cgroup that fails ends it at once: the
    creator finds it gone (EarlyInit.alive) and forks an init as usual, which says why."""
    code = 1
    try:
        for fd in close:
            os.close(fd)
        if join is not None:
            try:
                join.join(os.getpid())
            except OSError:
                code = 0
                return
            from krat.runtime import creation

            creation.entered_by_init(join)
        syscalls = sc.LinuxSyscalls()
        host = {kind: os.open(f"/proc/self/ns/{sc.NAMESPACE_FILES[kind]}", os.O_RDONLY | os.O_CLOEXEC)
                for kind in kinds}
        flags = 0
        for kind in kinds:
            flags |= SPECULATIVE[kind]
        syscalls.unshare(flags)
        if "network" in kinds:
            syscalls.link_up("lo")   # what init.loopback_up does, should the spec keep this namespace
        _warm_up(sock)
        request = _receive(sock)
        _restore_affinity(cpus)
        if request is None:
            code = 0
            return   # released: the create never came, or went another way
        _become(request, sock, sync_w, host)
    except BaseException:  # noqa: BLE001 - a forked child must never return to the caller
        pass
    finally:
        os._exit(code)


# A config.json of the usual shape, for _warm_up: the parts the init parses and plans.
_SAMPLE = (
    '{"ociVersion": "1.0.2", "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sh"],'
    ' "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=sample"], "cwd": "/", "capabilities":'
    ' {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN", "CAP_KILL"], "permitted":'
    ' ["CAP_CHOWN", "CAP_KILL"]}, "oomScoreAdj": 0}, "root": {"path": "rootfs", "readonly": false},'
    ' "hostname": "sample", "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "options":'
    ' ["nosuid", "noexec", "nodev"]}, {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options":'
    ' ["nosuid", "strictatime", "mode=755", "size=65536k"]}, {"destination": "/sys/fs/cgroup", "type": "cgroup",'
    ' "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}, {"destination":'
    ' "/etc/hosts", "type": "bind", "source": "/hosts", "options": ["rbind", "rprivate"]}], "linux":'
    ' {"resources": {"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1,'
    ' "minor": 3, "access": "rwm"}]}, "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},'
    ' {"type": "uts"}, {"type": "mount"}], "cgroupsPath": "/sample", "maskedPaths": ["/proc/kcore"],'
    ' "readonlyPaths": ["/proc/sys"], "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,'
    ' "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "write"], "action":'
    ' "SCMP_ACT_ALLOW"}, {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0,'
    ' "value": 8, "op": "SCMP_CMP_EQ"}]}]}}}')


def _warm_up(sock: _socket.socket) -> None:
    """While the request has not come: parse a sample spec and build its context (pure work,
    nothing of it kept), so that the real one, on the path to "started", runs code this
    process has run before. In a fresh fork the first run of that code is 3-4 times slower
    (copy-on-write faults on the pages it touches, the interpreter's specialising): ~0.9 ms
    against ~0.25 ms for parsing config.json. Stops at once when the request is there."""
    from krat.oci import jsoncodec as json
    from krat.runtime import creation, mounts
    from krat.runtime.cgroups import Cgroup

    try:
        if _waiting(sock):
            return
        spec = Spec.from_json(json.loads(_SAMPLE))
        if _waiting(sock):
            return
        cgroup = Cgroup(spec.linux.cgroups_path)
        creation._prepare_context(spec, "/", cgroup, None, with_filter=False)
        creation._launch(spec, cgroup, None, joined=True)
        for m in spec.mounts:
            mounts.plan_mount(m)
    except Exception:  # noqa: BLE001 - only a warm-up: the real request decides
        pass


def _waiting(sock: _socket.socket) -> bool:
    """Whether the request (or EOF) is there to be read."""
    try:
        sock.recv(1, _socket.MSG_PEEK | _socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        pass
    return True


def _restore_affinity(cpus: set[int]) -> None:
    """Back to the CPU mask this init was forked with (the container's processes inherit it);
    a cpuset that changed meanwhile (the creator applies the cgroup's limits) bounds it."""
    try:
        os.sched_setaffinity(0, cpus)
    except OSError:   # none of them allowed by the cpuset now: every CPU, as the cpuset says
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


def _receive(sock: _socket.socket):
    data, anc, _, _ = sock.recvmsg(65536, _socket.CMSG_SPACE(3 * 4))
    if not data:
        return None
    size = int.from_bytes(data[:4], "big")
    blob = data[4:]
    while len(blob) < size:
        more = sock.recv(size - len(blob))
        if not more:
            return None
        blob += more
    stdio = struct.unpack("3i", anc[0][2][:12])
    return marshal.loads(blob), stdio


def _become(request, sock: _socket.socket, sync_w: int, host: dict[str, int]) -> None:
    """Build the context from the spec (as the creator does), then the namespaces and steps."""
    from krat.oci import jsoncodec as json
    from krat.runtime import bpf, creation  # noqa: F401  (bpf: _await_program may come after pivot_root)
    from krat.runtime.cgroups import cgroup_path
    from krat.runtime.init import (INIT_STEPS, InitContext, loopback_up, make_devices, run_create_hooks,
                                   seccomp_before_caps)

    (container_id, bundle, console_socket, data), stdio = request
    try:
        spec = Spec.from_json(_without_seccomp(json.loads(data)))
    except Exception:  # noqa: BLE001 - the creator parses the same bytes and reports it
        return
    # The cgroup the creator entered before it forked this init, as it made it (its root: the
    # creator's configured_root(), in the same environment): no second Cgroup (a stat, and
    # an os.environ lookup: ~0.05 ms in this fresh fork).
    cgroup = creation.entered_cgroup()
    if not (cgroup is not None and cgroup.path == cgroup_path(spec.linux.cgroups_path, container_id)
            and serves(spec, pids_limit_ok(spec))):
        return   # the creator decides the same (it entered that cgroup, we were forked in it)
    sp._DEBUG = bool(os.environ.get("KRAT_DEBUG"))
    if sp._DEBUG:
        import traceback  # noqa: F401  (nothing can be imported after pivot_root)
    hooks = creation.has_hooks(spec)
    if hooks:
        from krat.runtime import hooks as _  # noqa: F401  (nor after _enter joins a mount namespace)
    rootfs = os.path.normpath(os.path.join(bundle, spec.root.path))
    ctx = InitContext(spec=spec, rootfs=rootfs, sys=sc.LinuxSyscalls(), sync=sync_w)  # to report errors
    try:
        ctx = creation._prepare_context(spec, rootfs, cgroup, console_socket, with_filter=False)  # sent later
        ctx.sync = sync_w
        ctx.reply = sock.fileno()
        global _request_socket
        _request_socket = sock   # for _await_program's recvmsg
        launch = creation._launch(spec, cgroup, stdio, joined=True)
        sp._enter(launch, ctx)
        _namespaces(ctx, launch, host)
    except BaseException as err:  # noqa: BLE001
        sp._report_error(ctx, err)
        return
    steps = list(INIT_STEPS)
    if "network" in host and any(ns.type == "network" and not ns.path for ns in spec.linux.namespaces):
        steps.remove(loopback_up)   # kept the namespace made ahead, whose `lo` _serve brought up
    steps.insert(steps.index(make_devices), _await_creator)
    # The hooks' conversation reads the same socket: the program is taken before it starts.
    steps.insert(steps.index(run_create_hooks if hooks else seccomp_before_caps), _await_program)
    sp._child(ctx, steps)


def _without_seccomp(doc):
    """config.json's document without linux.seccomp, which this init never reads (it loads the
    program the creator compiles, see _await_program): the profile is 60% of Docker's usual
    document, ~0.04 ms of the parse on the way to "started". The creator parses it all and
    refuses a bad profile; this init then stops at _await_creator, in namespaces of its own.
    With a terminal it parses it all too: it connects to the console socket before that,
    which no spec the creator refuses may do (see serves)."""
    linux = doc.get("linux") if isinstance(doc, dict) else None
    process = doc.get("process") if isinstance(doc, dict) else None
    if isinstance(linux, dict) and isinstance(process, dict) and process.get("terminal") is not True:
        linux.pop("seccomp", None)
    return doc


def _namespaces(ctx: InitContext, launch: sp.Launch, host: dict[str, int]) -> None:
    """From the namespaces made ahead to the spec's: keep, join by path, or back to the host's."""
    joined = {kind for kind, _ in launch.join}
    wanted = {ns.type for ns in ctx.spec.linux.namespaces}
    made = set(host)
    for kind, fd in launch.join:
        if kind != "pid":
            ctx.sys.setns(fd, sc.NAMESPACE_FLAGS[kind])
    for kind, fd in host.items():
        if kind not in wanted and kind not in joined:
            ctx.sys.setns(fd, SPECULATIVE[kind])
        os.close(fd)
    rest = launch.unshare_flags & ~sc.CLONE_NEWPID
    for kind in made:
        rest &= ~SPECULATIVE[kind]
    if rest:
        ctx.sys.unshare(rest)   # the mount namespace, now that the bundle's rootfs is mounted


_request_socket: _socket.socket | None = None   # the init's end of the creator's socket (ctx.reply)


def _await_creator(ctx: InitContext) -> None:
    """An init step: wait until the creator has set the cgroup up."""
    if os.read(ctx.reply, 1) != READY:
        os._exit(1)   # the creator failed or gave up: it reports why


def _await_program(ctx: InitContext) -> None:
    """An init step: take exec.fifo's fd and the seccomp program from the creator."""
    sock = _request_socket   # ctx.reply's: no second socket object (a dup, and its queries)
    data, anc, _, _ = sock.recvmsg(5, _socket.CMSG_SPACE(4))
    if anc:
        ctx.fifo = struct.unpack("i", anc[0][2][:4])[0]
    if len(data) < 5 or data[:1] != PROGRAM or not anc:
        os._exit(1)   # the creator failed or gave up: it reports why
    size = int.from_bytes(data[1:5], "big")
    bpf = b""
    while len(bpf) < size:
        more = sock.recv(size - len(bpf))
        if not more:
            os._exit(1)
        bpf += more
    if bpf:
        from krat.runtime.bpf import Program   # loaded by _become, before pivot_root

        ctx.filter = Program(bpf)
