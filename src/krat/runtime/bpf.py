"""A compiled seccomp program (classic BPF), loaded into the calling process with prctl.

Kept apart from seccomp.py (the profile -> program compiler): a process joining a running
container (exec) loads the program its create compiled and needs none of the compiler.
"""

from __future__ import annotations

import os

from krat.errors import InvalidArgument
from krat.runtime import libc

_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


class _SockFprog(libc.Structure):
    _fields_ = [("len", libc.c_ushort), ("filter", libc.c_void_p)]


# The longest classic program the kernel takes (BPF_MAXINSNS instructions of 8 bytes). Its
# buffer type is made when this module loads, in the runtime's process before it forks the
# init: a type for each program's own length (and c_char, its first) would be made in the
# init after "go", ~0.06 ms of its fresh fork.
_MAX_BYTES = 4096 * 8
_Buffer = libc.c_char * _MAX_BYTES


class Program:
    """`bpf`: struct sock_filter[] as the kernel takes it; load() after the last syscall it would forbid."""

    def __init__(self, bpf: bytes) -> None:
        if not bpf or len(bpf) % 8:
            raise InvalidArgument(f"linux.seccomp: a compiled filter of {len(bpf)} bytes is not a BPF program")
        self.bpf = bpf
        if len(bpf) <= _MAX_BYTES:
            self._buffer = _Buffer()
            memoryview(self._buffer).cast("B")[:len(bpf)] = bpf   # one copy of the program
        else:
            self._buffer = libc.bytes_buffer(bpf)   # too long: the kernel's error, at load
        self._prog = _SockFprog(len(bpf) // 8, libc.addressof(self._buffer))
        self._libc = libc.process()

    def load(self) -> None:
        rc = self._libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, libc.byref(self._prog), 0, 0)
        if rc < 0:
            err = libc.get_errno()
            raise OSError(err, f"cannot load the seccomp filter: {os.strerror(err)}")
