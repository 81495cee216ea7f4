"""Containers: create, start (through a monitor), stop, kill, remove, wait, rename, pause.

The service is what every front end calls (the CLI verbs and the REST API). State lives
in the database; a container's processes belong to its monitor (engine/monitor.py).
`reconcile()` keeps the recorded state truthful when a monitor or a container died
without telling anyone (kill -9).
"""

from __future__ import annotations

from krat.oci import jsoncodec as json  # not `json`: json.decoder loads re (~1 ms)
import os
import _socket  # not `socket`: it loads selectors, enum and array (~1.5 ms)
from _socket import SHUT_WR

from krat.db import containers as rows
from krat.db import open_database
from krat.engine.containerdirs import make_dirs
from krat.engine.lifecycle import Lifecycle
from krat.engine.names import generate_name, new_id
from krat.engine.removal import Removal
from krat.engine.procs import container_pid_alive, pid_alive, signal_number  # noqa: F401  (re-exported)
from krat.engine.spec import ContainerSpec
from krat.engine.state import ACTIVE, Status, check
from krat.errors import AlreadyExists, Conflict, InvalidArgument, KratError, NotFound
from krat.oci.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from krat.db import Database
    from krat.db.containers import ContainerRow
    from krat.engine.config import Paths
    from krat.engine.images import Image


@record(frozen=True)
class Container:
    row: "ContainerRow"
    spec: ContainerSpec

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def status(self) -> Status:
        return Status(self.row.status)


class StartError(KratError):
    """The container could not be started; exit_code is Docker's (125, 126 or 127)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def now_rfc3339() -> str:
    from krat.engine.clock import timestamp

    return timestamp()


@record
class EarlyMonitor:
    """A monitor started before its container is prepared (see ContainerService.create's
    prestart): it starts its interpreter while this process sets the container up, then
    waits for a "go" line on the sync socket (EOF instead: it exits, touching nothing)."""
    pid: int
    sync: object          # our end of the socketpair (from spawn_early: a bare _socket.socket, see _sync_socket)
    attach: bool
    owner: bool
    detached: bool = True  # pid exits once the monitor has detached (spawn_configured's); False:
                           # pid is the monitor, our child (spawn_early's), reaped by run at its end


def _sync_socket(early: EarlyMonitor):
    """The early monitor's sync socket as one with `with` and makefile: the bare _socket.socket
    taken from spawn_early's becomes krat's Socket only when it is used, after "go"
    (krat.engine.attach then loads while the monitor creates the container, not before)."""
    sock = early.sync
    if hasattr(sock, "makefile"):
        return sock
    from krat.engine.attach import Socket

    return Socket(fileno=sock.detach())


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def default_netvol(spec: ContainerSpec):
    """The request of a container made without CLI flags (API, tests): its network mode only."""
    from krat.engine.netrequest import NetVolRequest, NetworkingRequest

    mode = "bridge" if spec.network_mode == "default" else spec.network_mode
    return NetVolRequest(NetworkingRequest(mode))


def _contextmanager(gen):
    """contextlib.contextmanager, applied at the first call: contextlib (with functools and
    collections, ~2 ms) is not imported on `run`'s path, which never calls these."""
    def call(*args, **kwargs):
        from contextlib import contextmanager

        return contextmanager(gen)(*args, **kwargs)

    call.__name__, call.__qualname__, call.__doc__ = gen.__name__, gen.__qualname__, gen.__doc__
    return call


STOPPED = (Status.CREATED, Status.EXITED, Status.DEAD)


class _EachAlone:
    """Instead of a transaction: every write commits on its own (contextlib.nullcontext,
    without contextlib's imports)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> bool:
        return False


_EACH_ALONE = _EachAlone()


class ContainerService(Lifecycle, Removal):
    def __init__(self, paths: "Paths", db: "Database | None" = None) -> None:
        self.paths = paths
        self._db = db
        self._early: dict[str, EarlyMonitor] = {}
        self._net = None
        self._fresh: dict[str, Image] = {}  # containers create() made (and their images), not yet prepared
        self._started: dict[str, dict] = {}  # the state fields _handshake recorded, by id (see running)
        self._found: tuple[str, str] | None = None  # (reference, image id): has_image's, for the next create

    @property
    def db(self) -> "Database":
        if self._db is None:
            self._db = open_database(self.paths.db)
        return self._db

    # --- paths --------------------------------------------------------------------------------
    def storage_dir(self, cid: str) -> str:
        return os.path.join(self.paths.containers, cid)

    def run_dir(self, cid: str) -> str:
        return os.path.join(self.paths.run_containers, cid)

    def log_path(self, cid: str) -> str:
        return os.path.join(self.storage_dir(cid), f"{cid}-json.log")

    def rootfs(self, cid: str) -> str:
        return os.path.join(self.storage_dir(cid), "rootfs")

    # --- lookup -------------------------------------------------------------------------------
    def _wrap(self, row: "ContainerRow") -> Container:
        return Container(row, ContainerSpec.from_json(json.loads(row.spec)))

    def get(self, ref: str) -> Container:
        found = rows.find(self.db, ref)
        if not found:
            raise NotFound(f"no such container: {ref}")
        if len(found) > 1:
            raise InvalidArgument(f"multiple containers match {ref!r}: give more of the id")
        return self.reconcile(self._wrap(found[0]))

    def list(self) -> list[Container]:
        """Every container, truthfully: an --rm one whose monitor died is removed, not listed."""
        found = (self._reconciled(self._wrap(r)) for r in rows.list_all(self.db))
        return [c for c in found if c is not None]

    def refresh(self, c: Container) -> Container:
        row = rows.get(self.db, c.id)
        if row is None:
            raise NotFound(f"no such container: {c.name}")
        return self._wrap(row)

    def running(self, c: Container) -> Container:
        """c as this service's start() recorded it running (its pid, for `run`'s signal proxy),
        without reading the row back and parsing its spec again while the container runs;
        refresh() when this service did not start it."""
        fields = self._started.get(c.id)
        if fields is None:
            return self.refresh(c)
        return Container(rows.ContainerRow(**{**c.row.__dict__, **fields}), c.spec)

    # --- truthfulness -------------------------------------------------------------------------
    def reconcile(self, c: Container) -> Container:
        """Correct a recorded active state whose monitor is gone (kill -9, reboot)."""
        found = self._reconciled(c)
        return c if found is None else found

    def _reconciled(self, c: Container) -> Container | None:
        """reconcile(); None when that removed an --rm container."""
        r = c.row
        if Status(r.status) not in ACTIVE or pid_alive(r.monitor_pid, r.monitor_start):
            return c
        if r.pid and container_pid_alive(r.pid, c.id):
            return c  # running without its monitor: still truthfully running
        from krat.engine.cleanup import release

        rows.update_state(self.db, c.id, (r.status,), status=Status.EXITED.value, pid=0,
                          exit_code=255 if r.exit_code == 0 else r.exit_code,
                          error="container monitor died; the exit status is unknown",
                          finished_at=now_rfc3339())
        release(self.monitor_config(c), db=self.db)
        if c.spec.auto_remove:
            from krat.engine.cleanup import remove_container

            remove_container(self.monitor_config(c), self.db)
            return None
        return self.refresh(c)

    # --- create -------------------------------------------------------------------------------
    def has_image(self, ref: str) -> bool:
        """Whether `ref` names an image here (`run --pull missing`, without the registry code);
        the id found serves the next create() of that reference, which would look it up again."""
        from krat.engine.images import ImageService

        try:
            self._found = (ref, ImageService(self.paths, self.db).resolve_id(ref))
        except NotFound:
            return False
        return True

    def networking(self):
        """The network and volume area's seam for one container (engine/containernet.py)."""
        if self._net is None:   # one per service: it holds plugs still in progress (settle)
            from krat.engine.containernet import ContainerNet

            self._net = ContainerNet(self.db, self.paths)
        return self._net

    def create(self, spec: ContainerSpec, name: str = "", netvol=None, prestart: dict | None = None) -> Container:
        """prestart ({"attach": bool, "owner": bool}, for `run`): start the monitor now, so its
        interpreter starts while the container is set up; start() with the same flags uses it."""
        from krat.engine.images import ImageService
        from krat.engine.ocigen import process_args

        if not spec.runtime:
            spec = spec.with_(runtime=os.environ.get("KRAT_RUNTIME") or "krat")
        if spec.auto_remove and spec.restart.name != "no":
            raise InvalidArgument("conflicting options: --restart and --rm")
        images = ImageService(self.paths, self.db)
        found, self._found = self._found, None
        image = images.get_for_run(found[1] if found and found[0] == spec.image else images.resolve_id(spec.image))
        process_args(spec, image.config)  # an empty command fails now, before anything exists
        cid = prestart["early"][0] if prestart and prestart.get("early") else new_id()
        row = rows.ContainerRow(id=cid, name=name, image_id=image.id, image_ref=spec.image,
                                created=now_rfc3339(), spec=json.dumps(spec.to_json()), status="created",
                                pid=0, monitor_pid=0, monitor_start=0, exit_code=0, error="",
                                started_at="", finished_at="", oom_killed=False, restart_count=0,
                                stop_requested=False)
        # A --network none container takes no network's lock (which must never be waited for
        # inside a transaction): its row and its networking row go in one commit, not two.
        with self.db.transaction() if spec.network_mode == "none" else _EACH_ALONE:
            inserted = self._insert(row, explicit=bool(name))
            try:
                storage = self.storage_dir(cid)
                make_dirs(storage, ("diff", "work", "rootfs"))
                # the log, before the monitor (prestart) opens it
                os.close(os.open(self.log_path(cid), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o640))
                c = Container(inserted, spec)
                if prestart is not None:
                    self._early[cid] = self._launch_monitor(c, **prestart)
                self.networking().create(cid, inserted.name, netvol or default_netvol(spec), image.config)
            except BaseException:
                from krat.runtime.trees import remove_tree  # not shutil (bz2, lzma); only a failure needs it

                self._abort_early(cid)
                rows.delete(self.db, cid)
                remove_tree(self.run_dir(cid))
                remove_tree(self.storage_dir(cid))
                raise
        self._fresh[cid] = image  # prepare: neither mounted nor a stranger's image yet
        return c

    def _launch_monitor(self, c: Container, attach: bool, owner: bool, early=None) -> EarlyMonitor:
        """early: (id, pid, socket) from `run`'s monitor.spawn_early, a monitor already running
        for this id that only needs its config; else a monitor process is spawned now."""
        owner = owner and attach and c.spec.auto_remove
        cfg = self.monitor_config(c)
        cfg.update(attach=attach, stdin_once=attach and c.spec.open_stdin, go=True)
        make_dirs(self.run_dir(c.id))
        if early is not None:
            from krat.engine.monitorspawn import send_config

            _, pid, raw = early
            ours = _socket.socket(fileno=raw.detach())  # ours now: the caller's is left detached
            try:
                send_config(ours, cfg)
            except OSError:
                pass  # the monitor died: the handshake reads EOF and says so
            return EarlyMonitor(pid, ours, attach, owner, detached=False)
        import socket

        from krat.engine.monitorspawn import spawn_configured

        ours, theirs = socket.socketpair()
        cfg["sync_fd"] = theirs.fileno()
        try:
            pid = spawn_configured(cfg, os.path.join(self.run_dir(c.id), "monitor.log"), wait=False)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return EarlyMonitor(pid, ours, attach, owner)

    def _abort_early(self, cid: str) -> None:
        """Send the early monitor away (EOF instead of "go") and wait until it has gone."""
        early = self._early.pop(cid, None)
        if early is None:
            return
        with _sync_socket(early) as sock:
            try:
                sock.shutdown(SHUT_WR)
                while sock.recv(4096):
                    pass
            except OSError:
                pass
        _reap(early.pid)

    def _insert(self, row: "rows.ContainerRow", explicit: bool) -> "rows.ContainerRow":
        """The row as inserted (with its generated name)."""
        if explicit:
            rows.insert(self.db, row)
            return row
        for attempt in range(10):
            named = rows.ContainerRow(**{**row.__dict__, "name": generate_name(retry=attempt)})
            try:
                rows.insert(self.db, named)
                return named
            except AlreadyExists:
                continue
        raise Conflict("could not generate a unique container name; give one with --name")

    # --- start --------------------------------------------------------------------------------
    def monitor_config(self, c: Container) -> dict:
        from krat.engine.bundle import cgroup_root, cgroups_path, memory_cgroup_dir
        from krat.engine.config import state_root

        binary = c.spec.runtime or "krat"
        return {
            "id": c.id, "dir": self.run_dir(c.id), "db": self.paths.db,
            "root": self.paths.root, "runroot": self.paths.runroot,
            "log_path": self.log_path(c.id), "runtime": binary,
            "runtime_root": state_root(binary, self.paths.runroot),
            "tty": c.spec.tty, "open_stdin": c.spec.open_stdin,
            "restart": c.spec.restart.name, "max_retries": c.spec.restart.max_retries,
            "auto_remove": c.spec.auto_remove, "max_size": c.spec.log.max_size,
            "max_file": c.spec.log.max_file, "rootfs": self.rootfs(c.id),
            "storage_dir": self.storage_dir(c.id), "cgroups_path": cgroups_path(c.id),
            "cgroup_memory": memory_cgroup_dir(c.id, cgroup_root(binary)), "cgroup_root": cgroup_root(binary), "restart_count": c.row.restart_count,
        }

    def prepare(self, c: Container) -> None:
        """Mount the rootfs and write config.json; undone by cleanup.release."""
        from krat.engine import bundle, ocigen
        from krat.engine.images import ImageService
        from krat.store.snapshots import is_mounted, mount_overlay

        image = self._fresh.pop(c.id, None)
        storage = self.storage_dir(c.id)
        rootfs = self.rootfs(c.id)
        if image is None:
            image = ImageService(self.paths, self.db).get_for_run(c.row.image_id)
            os.makedirs(rootfs, exist_ok=True)
            mounted = is_mounted(rootfs)
            if not mounted and c.spec.auto_remove:
                from krat.runtime.trees import remove_tree  # not shutil: it loads bz2 and lzma

                # overlayfs refuses an upper dir once mounted volatile (it may have lost writes
                # in a crash); ours was unmounted cleanly when `restart` kept the container.
                remove_tree(os.path.join(storage, "work", "work", "incompat"))
        else:
            mounted = False  # made by create() in this process a moment ago: its work dir is empty
        if not mounted:
            mount_overlay(image.layer_dirs, rootfs, os.path.join(storage, "diff"), os.path.join(storage, "work"),
                          volatile=c.spec.auto_remove)
        net = None
        try:
            ctx = bundle.build_context(c.id, c.spec, rootfs, storage, self.namespace_paths(c),
                                       bundle.NetworkAttachment(), image.config.get("User") or "")
            document = ocigen.generate(c.spec, image.config, ctx)
            net = self.networking()
            started = (net.start_plain(c.id) if net.is_plain(c.id) else  # --network none, no mounts
                       net.start(c.id, document["hostname"], rootfs, ctx.user.uid, ctx.user.gid))
            bundle.plug(document, started.namespace,
                        started.etc_mounts_read_only() if c.spec.security.read_only else started.mounts)
            bundle.write_config(self.run_dir(c.id), document)
        except BaseException:
            from krat.store.snapshots import unmount

            if net is not None:
                net.stop(c.id)
            unmount(rootfs)
            raise

    def namespace_paths(self, c: Container) -> tuple[tuple[str, str], ...]:
        out = []
        for kind, mode in (("ipc", c.spec.ipc_mode),):
            if mode.startswith("container:"):
                other = self.get(mode.partition(":")[2])
                if other.status is not Status.RUNNING or not other.row.pid:
                    raise Conflict(f"cannot join the {kind} namespace of container {other.name}: it is not running")
                short = "net" if kind == "network" else kind
                out.append((kind, f"/proc/{other.row.pid}/ns/{short}"))
        return tuple(out)

    def start(self, ref: str | Container, attach: bool = False, owner: bool = False):  # noqa: C901
        """Start through a new monitor; with attach, return a socket attached before the start.
        owner (with attach, for `run --rm` in the foreground): the caller takes over the removal
        when the monitor hands it over (see finish_removal)."""
        c = ref if isinstance(ref, Container) else self.get(ref)
        lock = self._start_lock(c.id)
        try:
            sock = self._start_locked(c, attach, owner)
        finally:
            os.close(lock)
        if owner and attach and c.spec.auto_remove:
            import krat.engine.cleanup  # noqa: F401  (finish_removal's: loaded while the container runs)
        return sock

    def _start_lock(self, cid: str, wait: bool = True) -> int:
        """An fd holding the container's start lock, or -1 (wait=False) when another process
        holds it. A start holds it from before the network is plugged in until the status
        is running (or the start failed and cleaned up): the network garbage collector
        (`claim_idle`) must not mistake a container that is starting for a crashed one.
        The lock is on the container's run directory itself: a lock file in it would cost
        every start an inode to make (~0.1-0.2 ms on ext4 here) and the removal one to unlink."""
        import fcntl

        folder = self.run_dir(cid)
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:  # never started in this runroot (yet)
            os.makedirs(folder, exist_ok=True)
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return -1
        except BaseException:
            os.close(fd)
            raise
        return fd

    @_contextmanager
    def _not_starting(self, cid: str) -> Iterator[bool]:
        """True, holding its start lock meanwhile, unless a `start` of the container is under
        way; unknown ids are never starting."""
        if rows.get(self.db, cid) is None:
            yield True
            return
        lock = self._start_lock(cid, wait=False)
        try:
            yield lock >= 0
        finally:
            if lock >= 0:
                os.close(lock)

    @_contextmanager
    def claim_idle(self, cid: str) -> Iterator[bool]:
        """True (holding its start lock meanwhile) when the container is neither running, nor
        being started, nor looked after by a live monitor (one that restarts it, or is
        releasing it): what it holds of the kernel is then a leftover. Unknown ids are idle."""
        with self._not_starting(cid) as free:
            row = rows.get(self.db, cid) if free else None
            if row is not None:
                row = self.reconcile(self._wrap(row)).row
            yield free and (row is None or (Status(row.status) not in ACTIVE
                                            and not pid_alive(row.monitor_pid, row.monitor_start)))

    def prune(self, keep=None) -> list[str]:
        """Remove every container that is not running (`keep(c, everyone)`: spare it);
        one that a concurrent `start` is bringing up is spared."""
        everyone = self.list()
        removed = []
        for c in everyone:
            if c.status not in STOPPED or (keep is not None and keep(c, everyone)):
                continue
            with self._not_starting(c.id) as free:
                try:
                    if not free or self.refresh(c).status not in STOPPED:
                        continue
                    self.remove(c)  # waits for a monitor that is still releasing it, as `rm` does
                except NotFound:
                    continue
            removed.append(c.id)
        return removed

    def collect_network_garbage(self) -> list[str]:
        """Kernel leftovers of crashed containers and killed krat processes (containernet.gc)."""
        return self.networking().gc(self.claim_idle)

    def _start_locked(self, c: Container, attach: bool, owner: bool):
        early = self._early.get(c.id)
        if early is not None and (early.attach, early.owner) != (attach, owner and attach and c.spec.auto_remove):
            self._abort_early(c.id)
        try:
            if c.status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING):
                self._abort_early(c.id)
                return None  # docker start on a running container is a no-op
            check(c.name, c.status, Status.RUNNING)
            self._await_old_monitor(c)
            if c.id not in self._fresh:  # made by create() here: False, as only an active one is asked to stop
                rows.update_state(self.db, c.id, None, stop_requested=False)
            self.prepare(c)
        except BaseException:
            self._abort_early(c.id)
            raise
        early = self._early.pop(c.id, None)
        if early is not None:
            gate = self._net is not None and self._net.pending(c.id)
            try:
                early.sync.sendall(b"go gate\n" if gate else b"go\n")
            except OSError:
                pass  # the monitor died: the handshake reads EOF and says so
            # From here the monitor creates the container (~4 ms), and this process would only
            # wait: it attaches meanwhile (the monitor takes its client after "created") and, as
            # the owner of an --rm container, loads the removal's code.
            with _sync_socket(early) as ours:
                sock = self._attach_now(c, early.owner) if attach else None
                if early.owner:
                    import krat.engine.cleanup  # noqa: F401  (finish_removal's)
                if early.detached:
                    _reap(early.pid)
                return self._handshake(c, ours.makefile("rb"), ours, attach, early.owner, sock, gate)
        return self._spawn_monitor(c, attach, owner and attach and c.spec.auto_remove)

    def _await_old_monitor(self, c: Container, timeout: float = 30.0, unless=None) -> bool:
        """Until the container's last monitor has exited. It records the exit before it
        unmounts and detaches: a new start must not mount (or find mounted) what that cleanup
        is about to take away. A pidfd wakes us as it exits (no polling of /proc). unless: a
        check, made every 50 ms, that ends the wait early (False then)."""
        pid, ticks = c.row.monitor_pid, c.row.monitor_start
        if not pid_alive(pid, ticks):
            return True
        import select
        import time

        try:
            fd = os.pidfd_open(pid)
        except OSError:  # gone meanwhile
            return True
        try:
            if not pid_alive(pid, ticks):  # the pid was reused before the open: not ours
                return True
            end = time.monotonic() + timeout
            while (left := end - time.monotonic()) > 0:
                if select.select([fd], [], [], left if unless is None else min(left, 0.05))[0]:
                    return True
                if unless is not None and unless():
                    return False
            return True
        finally:
            os.close(fd)

    def _spawn_monitor(self, c: Container, attach: bool, owner: bool = False):
        """Start the monitor and follow its handshake (see engine/monitor.py)."""
        import socket

        from krat.engine.monitorspawn import spawn_configured

        cfg = self.monitor_config(c)
        cfg["attach"] = attach
        cfg["stdin_once"] = attach and c.spec.open_stdin
        cfg["gate"] = gate = self._net is not None and self._net.pending(c.id)
        ours, theirs = socket.socketpair()
        cfg["sync_fd"] = theirs.fileno()
        with ours:
            try:
                spawn_configured(cfg, os.path.join(self.run_dir(c.id), "monitor.log"))
            finally:
                theirs.close()
            return self._handshake(c, ours.makefile("rb"), ours, attach, owner, gate=gate)

    def _attach_now(self, c: Container, owner: bool):
        """Attach to an early monitor as soon as "go" is out (it listens once it has its config),
        so it need not wait for us between creating and starting; None if it is not listening yet."""
        from krat.engine.attach import connect

        try:
            return connect(self.run_dir(c.id), stream=True, owner=owner)
        except OSError:
            return None

    def _handshake(self, c: Container, sync, ours, attach: bool, owner: bool = False, sock=None,
                   gate: bool = False):
        """Follow the monitor's reports. gate: the network is still being plugged in (it was
        overlapped with the runtime's create); the monitor starts the container only once
        told "start", after settle()."""
        from krat.engine.attach import connect

        for line in sync:
            msg = json.loads(line)
            if "created" in msg and gate:
                try:
                    self.networking().settle(c.id)
                except BaseException as err:
                    ours.shutdown(SHUT_WR)   # EOF at the gate: the monitor removes its container
                    if sock is not None:
                        sock.close()
                    sync.read()
                    if isinstance(err, KratError):
                        self._start_failed(c, err.message)
                    raise
                ours.sendall(b"start\n")
            if "created" in msg and attach and sock is None:
                sock = connect(self.run_dir(c.id), stream=True, owner=owner)
            elif "started" in msg:
                fields = dict(status=Status.RUNNING.value, pid=msg["started"], monitor_pid=msg["monitor"],
                              monitor_start=msg["ticks"], started_at=msg["at"], exit_code=0, error="",
                              oom_killed=False, finished_at="0001-01-01T00:00:00Z")
                rows.update_state(self.db, c.id, None, **fields)
                self._started[c.id] = fields
                return sock  # closing `ours` lets the monitor record exits from now on
            elif "error" in msg:
                if sock is not None:
                    sock.close()
                sync.read()  # EOF: the monitor has cleaned up and exited
                self._start_failed(c, msg["error"], msg.get("code", 0))
        if sock is not None:
            sock.close()
        self._start_failed(c, "the container monitor exited before the container started "
                              f"(see {os.path.join(self.run_dir(c.id), 'monitor.log')})")

    def _start_failed(self, c: Container, message: str, code: int = 0) -> None:
        from krat.engine.runtimes import classify

        code = code if code in (126, 127) else classify(message)
        if code in (126, 127):
            message = self._diagnose(c) or message
        rows.update_state(self.db, c.id, None, exit_code=code if code != 125 else 128, error=message)
        raise StartError(message, code)

    def _diagnose(self, c: Container) -> str:
        """A clearer reason for a command that could not run (see bundle.diagnose)."""
        from krat.engine.bundle import diagnose
        from krat.engine.containerfs import mounted_root
        from krat.engine.ocigen import container_env, process_args

        try:
            config = self._image_config(c)
            args = process_args(c.spec, config)
            if c.spec.init:
                return ""
            with mounted_root(self, c) as root:
                return diagnose(str(root), args, container_env(c.spec, config, ""))
        except Exception:  # a diagnosis must never hide the original error
            return ""

    # --- remove, rename ------------------------------------------------------------------------
    def rename(self, ref: str, new_name: str) -> None:
        from krat.engine.spec import parse_name

        c = self.get(ref)
        rows.rename(self.db, c.id, parse_name(new_name))
        self.networking().rename(c.id, parse_name(new_name))
