"""Attaching a terminal (or pipes) to a container: raw mode, resizes, signal proxying."""

from __future__ import annotations

import os
import _signal as signal  # not `signal`: it builds enums (imports enum); the numbers are the same
import sys

PROXIED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def attach_session(sock, pid: int, stdin: bool, tty: bool, wait_final: bool = True,
                   sig_proxy: bool = True, result: dict | None = None) -> int | None:
    """Stream until the container exits (its code) or the user detaches (None).
    result["cleanup"]: the monitor handed the container's removal to the caller."""
    from krat.engine.attach import Session, send_resize

    session = Session(sock, stdin=stdin, tty=tty, wait_final=wait_final)
    restore = None
    if tty and os.isatty(0):
        import termios
        import tty as ttymod

        saved = termios.tcgetattr(0)
        ttymod.setraw(0)
        restore = lambda: termios.tcsetattr(0, termios.TCSADRAIN, saved)  # noqa: E731
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        session.wake_r = wake_r
        signal.signal(signal.SIGWINCH, lambda *_: os.write(wake_w, b"w"))
        send_resize(sock, 0)
    elif sig_proxy and pid:
        from krat.engine.procs import signaller

        send = signaller(pid)   # not os.kill(pid): once the container has exited, its pid may be another's

        def forward(signum, _frame):
            send(signum)
        for sig in PROXIED:
            signal.signal(sig, forward)
    try:
        code = session.run()
        if result is not None:
            result["cleanup"] = session.cleanup
        return code
    finally:
        if restore is not None:
            restore()
            sys.stdout.flush()
