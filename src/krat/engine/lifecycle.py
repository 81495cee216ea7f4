"""Signals, stop, wait, restart, pause and unpause: ContainerService's lifecycle verbs.

A mixin so containers.py stays readable; it uses the service's db, paths, get/refresh,
reconcile, start and monitor_config.
"""

from __future__ import annotations

import os
import _signal as signals  # not `signal`: it builds enums (imports enum); the numbers are the same
import time

from krat.db import containers as rows
from krat.engine.procs import container_pid_alive, pid_alive, signal_checked, signal_number
from krat.engine.state import ACTIVE, Status
from krat.errors import Conflict, KratError, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.engine.containers import Container


class Lifecycle:
    def kill(self, ref: "str | Container", sig: str | int = "KILL") -> "Container":
        c = ref if not isinstance(ref, str) else self.get(ref)
        if c.status not in (Status.RUNNING, Status.PAUSED, Status.RESTARTING):
            raise Conflict(f"container {c.name} is not running")
        number = signal_number(sig)
        if c.status is Status.RESTARTING:
            c = self._stay_down(c)
            if c.status is Status.RESTARTING or c.status not in ACTIVE:
                return c
        self._signal(c, number)
        return c

    def _stay_down(self, c: "Container") -> "Container":
        """A stop or kill of a restarting container: record that it must stay down and end
        the monitor's back-off; the container as it is after that record. Its monitor reads
        the record when it records a restart ("running") and ends what it started if it is
        there. A restart recorded before ours came is running now, unsignalled: the caller
        signals it as any running container."""
        rows.update_state(self.db, c.id, None, stop_requested=True)
        c = self.refresh(c)
        if c.status is Status.RESTARTING:
            self._nudge_monitor(c)
        return c

    def _nudge_monitor(self, c: "Container") -> None:
        """SIGUSR1 to the container's monitor (it ends a restart back-off)."""
        pid, ticks = c.row.monitor_pid, c.row.monitor_start
        signal_checked(pid, signals.SIGUSR1, lambda: pid_alive(pid, ticks))

    def stop(self, ref: "str | Container", timeout: int | None = None, sig: str | None = None) -> "Container":
        from krat.engine.ocigen import stop_signal

        c = ref if not isinstance(ref, str) else self.get(ref)
        if c.status not in ACTIVE:
            return c
        if c.status is Status.RESTARTING:
            c = self._stay_down(c)
            if c.status is Status.RESTARTING:
                self.wait(c, condition="not-running", timeout=10)
                return self.refresh(c)
            if c.status not in ACTIVE:
                return c
        else:
            rows.update_state(self.db, c.id, None, stop_requested=True)
        if c.status is Status.PAUSED:
            self.unpause(c)
        if timeout is None:
            timeout = c.spec.stop_timeout if c.spec.stop_timeout is not None else 10
        signame = sig or stop_signal(c.spec, self._image_config(c))
        sock = self._waiter(c)
        try:
            if timeout != 0:
                self._signal(c, signal_number(signame))
            if not self._await_exit(sock, c, timeout if timeout >= 0 else None):
                self._signal(c, signals.SIGKILL)
                self._await_exit(sock, c, None)
        finally:
            if sock is not None:
                sock.close()
        return self._after_stop(c)

    def _after_stop(self, c: "Container") -> "Container":
        """The stopped container; an --rm one may be gone already (its monitor removed it)."""
        try:
            return self.refresh(c)
        except NotFound:
            return c

    def _signal(self, c: "Container", number: int) -> None:
        """Signal the container's init if the recorded pid is still the container's. The row
        (and the copy of it a command holds) names that pid until the monitor records the exit;
        once the init is reaped the kernel may give the pid to an unrelated host process, which
        is in another cgroup. A pid that is not the container's counts as gone, as one that no
        longer exists."""
        signal_checked(c.row.pid, number, lambda: container_pid_alive(c.row.pid, c.id))

    def _image_config(self, c: "Container") -> dict:
        try:
            from krat.engine.images import ImageService

            return ImageService(self.paths, self.db).get(c.row.image_id).config
        except KratError:
            return {}

    def _waiter(self, c: "Container"):
        from krat.engine.attach import connect

        try:
            return connect(self.run_dir(c.id), stream=False)
        except OSError:
            return None

    def _await_exit(self, sock, c: "Container", timeout: float | None) -> bool:
        """Wait until the monitor has finished with the container (final exit or EOF)."""
        from krat.engine.attach import wait_exit

        if sock is not None:
            return wait_exit(sock, timeout, final=True) is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            cur = self.reconcile(self.refresh(c))
            if cur.status not in ACTIVE:
                return True
            time.sleep(0.05)
        return False

    def wait(self, ref: "str | Container", condition: str = "not-running", timeout: float | None = None) -> int:
        c = ref if not isinstance(ref, str) else self.get(ref)
        if c.status not in ACTIVE:
            # As Docker's not-running condition (and Podman): a created, never started container
            # is not running, so it answers at once with its exit code 0 instead of blocking.
            return c.row.exit_code
        sock = self._waiter(c)
        if sock is not None:
            from krat.engine.attach import wait_exit

            with sock:
                result = wait_exit(sock, timeout, final=False)
            if result is not None and result >= 0:
                return result
        self._await_exit(None, c, timeout)
        try:
            return self.refresh(c).row.exit_code
        except NotFound:
            return 0

    def restart(self, ref: str, timeout: int | None = None) -> "Container":
        """stop + start; an --rm container is kept through it, as Docker does."""
        from krat.engine.monitor import KEEP

        c = self.get(ref)
        keep = os.path.join(self.run_dir(c.id), KEEP)
        if c.spec.auto_remove and c.status in ACTIVE:
            os.close(os.open(keep, os.O_WRONLY | os.O_CREAT, 0o666))
        try:
            c = self.stop(c, timeout)
            self.start(c)
        finally:
            try:
                os.unlink(keep)
            except FileNotFoundError:
                pass
        return self.refresh(c)

    # --- pause ---------------------------------------------------------------------------------
    def pause(self, ref: "str | Container") -> "Container":
        from krat.engine.runtimes import RuntimeError_, open_runtime

        c = ref if not isinstance(ref, str) else self.get(ref)
        if c.status is not Status.RUNNING:
            raise Conflict(f"container {c.name} is {c.status.value}: only a running container can be paused")
        try:
            open_runtime(self.monitor_config(c)["runtime"], str(self.paths.runroot)).pause(c.id)
        except RuntimeError_ as err:
            raise Conflict(f"cannot pause container {c.name}: {err.message}") from None
        rows.update_state(self.db, c.id, ("running",), status="paused")
        return self.refresh(c)

    def unpause(self, ref: "str | Container") -> "Container":
        from krat.engine.runtimes import RuntimeError_, open_runtime

        c = ref if not isinstance(ref, str) else self.get(ref)
        if c.status is not Status.PAUSED:
            raise Conflict(f"container {c.name} is not paused")
        try:
            open_runtime(self.monitor_config(c)["runtime"], str(self.paths.runroot)).resume(c.id)
        except RuntimeError_ as err:
            raise Conflict(f"cannot unpause container {c.name}: {err.message}") from None
        rows.update_state(self.db, c.id, ("paused",), status="running")
        return self.refresh(c)

