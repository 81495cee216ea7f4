"""The engine's interface to a low-level runtime (implementations in engine/runtimes.py).

Kept apart from runtimes.py so the monitor, which imports that module, never loads
`typing` (and the `re` it pulls in): the monitor stays under its memory budget.
"""

from __future__ import annotations

from typing import Protocol


class Runtime(Protocol):
    def create(self, container_id: str, bundle: str, *, stdio: tuple[int, int, int],
               console_socket: str | None = None) -> int: ...

    def start(self, container_id: str) -> None: ...

    def state(self, container_id: str) -> dict | None: ...

    def kill(self, container_id: str, signal: int, all_processes: bool = False) -> None: ...

    def delete(self, container_id: str, force: bool = False) -> None: ...

    def pause(self, container_id: str) -> None: ...

    def resume(self, container_id: str) -> None: ...

    def exec_argv(self, container_id: str, process_file: str, *, tty: bool, detach: bool,
                  log: str | None = None) -> list[str]: ...
