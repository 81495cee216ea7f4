"""krat.runtime.libc: the C types ctypes would give, some made on first use."""

from __future__ import annotations

import pytest

from krat.runtime import libc


def test_types_made_on_first_use_are_ctypes_alikes():
    from krat.runtime.libc import c_uint32, c_uint64, c_void_p

    assert c_uint32 is libc.c_uint and libc.c_uint is libc.c_uint
    assert c_uint64(2**64 - 1).value == 2**64 - 1
    assert c_void_p(None).value is None
    assert libc.c_ushort(65536).value == 0
    buf = libc.bytes_buffer(b"abc")
    assert buf.raw == b"abc" and type(buf)._type_ is libc.c_char
    with pytest.raises(AttributeError):
        libc.c_nothing  # noqa: B018


def test_a_call_through_the_process_libc():
    assert libc.umount2("/nonexistent-krat-path") in (1, 2)  # EPERM without root, else ENOENT
