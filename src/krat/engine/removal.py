"""Removing containers: ContainerService's `rm`, and the hand-over with an exiting monitor.

A mixin so containers.py stays readable; it uses the service's db, paths, get/refresh,
monitor_config, networking and the lifecycle's signals (Lifecycle).
"""

from __future__ import annotations

import _signal as signals  # not `signal`: it builds enums (imports enum); the numbers are the same

from krat.db import containers as rows
from krat.engine.procs import pid_alive
from krat.engine.state import ACTIVE, Status
from krat.errors import Conflict, KratError, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.engine.containers import Container
    from krat.engine.monitorproto import HandOver


class Removal:
    def remove(self, ref: "str | Container", force: bool = False, volumes: bool = False) -> str:
        from krat.engine.cleanup import release_kernel, remove_container

        c = ref if not isinstance(ref, str) else self.get(ref)
        if c.status in ACTIVE or (force and self._restart_pending(c)):
            if not force:
                raise Conflict(f"cannot remove container {c.name}: it is {c.status.value}; "
                               "stop it first or use --force")
            rows.update_state(self.db, c.id, None, stop_requested=True)
            sock = self._remover(c)
            # what the removal needs, loaded (~8 ms of imports) before the kill rather than after
            prepared = (self.monitor_config(c), self.networking()) if sock is not None else None
            if c.status is Status.PAUSED:
                self._signal(c, signals.SIGKILL)
                try:
                    self.unpause(c)
                except KratError:
                    pass
            elif c.status is Status.RESTARTING:
                self._nudge_monitor(c)
            self._signal(c, signals.SIGKILL)
            if sock is None:
                self._await_exit(sock, c, 30)
            else:
                from krat.engine.monitorproto import HandOver

                monitor = HandOver(sock)
                if (monitor.final_exit(30.0) or {}).get("cleanup"):
                    self._remove_handed_over(c, monitor, volumes, prepared)
                    return c.id
                sock.close()  # the monitor released it itself (an older one, or it went away)
        try:
            current = self.refresh(c)
        except NotFound:
            return c.id  # an --rm container: its monitor removed it meanwhile
        # Its monitor may still be at its end, or about to start it again (a restart policy's
        # exit, before its "restarting" record): the latter is not ours to remove (as Docker).
        if not self._await_old_monitor(current, timeout=10.0, unless=lambda: self._started_again(c)):
            raise Conflict(f"cannot remove container {c.name}: it is restarting; stop it first or use --force")
        cfg = self.monitor_config(c)
        release_kernel(cfg)
        remove_container(cfg, self.db, volumes=volumes)  # detaches the networks, as release would
        return c.id

    def _started_again(self, c: "Container") -> bool:
        """Whether its monitor has recorded it restarting (or running) again."""
        row = rows.get(self.db, c.id)
        return row is not None and Status(row.status) in ACTIVE

    def _restart_pending(self, c: "Container") -> bool:
        """Recorded as exited, but its monitor lives on to restart it: between a restart
        policy's exit and its "restarting" record. (A monitor only finishing its cleanup
        looks the same: the forced path then finds it gone and removes the container.)"""
        return c.spec.restart.name not in ("", "no") and pid_alive(c.row.monitor_pid, c.row.monitor_start)

    def _remover(self, c: "Container"):
        """A socket on which the monitor hands the container's removal to us once it exited
        (see monitor.handoff); None without a monitor to ask."""
        from krat.engine.attach import connect

        try:
            return connect(self.run_dir(c.id), stream=False, remover=True)
        except OSError:
            return None

    def finish_removal(self, c: "Container", sock, prepared: tuple | None = None) -> None:
        """Remove an exited --rm container whose monitor handed that over to us (the owner
        client): see _remove_handed_over (prepared: as there, made while it ran)."""
        from krat.engine.monitorproto import HandOver

        self._remove_handed_over(c, HandOver(sock), volumes=True, prepared=prepared)

    def _remove_handed_over(self, c: "Container", monitor: "HandOver", volumes: bool,
                            prepared: tuple | None = None) -> None:
        """Remove an exited container with its monitor, on both cores (see monitor.handoff):
        it releases the kernel's side (cleanup.release_kernel) while we remove the storage
        and the rows (this process has the database open). The storage goes once the rootfs
        is unmounted: a plain umount, here or in the monitor, whichever comes first, succeeds
        only when no process of the container is left. The container's row goes once the
        monitor says RELEASED (no transaction is held open meanwhile: a stuck monitor must
        not hold up every writer); then it exits, and its EOF tells us. If it dies first, we
        release here; if we die, the row says running with no monitor, for the next command's
        reconcile. prepared: (monitor_config(c), networking()), made ahead."""
        from krat.engine.cleanup import release, remove_dirs, try_unmount
        from krat.engine.monitorproto import RELEASED, REMOVING

        cfg, net = prepared or (self.monitor_config(c), self.networking())
        monitor.send(REMOVING)
        plain = c.spec.network_mode == "none"  # no network's lock can be taken: with the row, below
        if not plain:  # outside a transaction: another process may hold a network's lock waiting for the db
            net.remove(c.id, volumes=volumes)  # detach, forget networks and volumes
        unmounted = try_unmount(cfg["rootfs"])
        if unmounted:
            remove_dirs(cfg, ("storage_dir",))
        if not monitor.wait(RELEASED):
            release(cfg, db=self.db)  # the monitor is gone: its part is ours
        if not unmounted:
            remove_dirs(cfg, ("storage_dir",))  # after the runtime's kill and a detaching umount
        with self.db.transaction():  # last: a crash before leaves it for `rm` (or reconcile)
            if plain:  # its networking rows with it: one commit, while the monitor exits
                net.remove(c.id, volumes=volumes)
            rows.delete(self.db, c.id)
        remove_dirs(cfg, ("dir",))
        monitor.wait(-1, timeout=5.0)  # EOF: the monitor has exited (it leaves the socket to the kernel)
        monitor.sock.close()
