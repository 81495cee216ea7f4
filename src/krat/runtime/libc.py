"""The slice of ctypes the runtime's kernel calls use, made from `_ctypes` (ctypes' C half).

`import ctypes` costs ~1.7 ms: its __init__ defines every C type and loads struct, types and
its byte-order helpers, on the path of every `krat exec` and container start. The runtime
calls a few libc functions with int, unsigned long and pointer arguments, and builds three
small structs; `_ctypes` alone (~0.5 ms, the shared library itself) has all of that. The
names mean what ctypes' do. Code that declares argtypes (libseccomp's binding, compiled
once per profile) imports ctypes itself.
"""

from __future__ import annotations

import _ctypes

Structure = _ctypes.Structure
addressof = _ctypes.addressof
byref = _ctypes.byref
get_errno = _ctypes.get_errno


class c_int(_ctypes._SimpleCData):
    _type_ = "i"


class c_uint(_ctypes._SimpleCData):
    _type_ = "I"


class c_ushort(_ctypes._SimpleCData):
    _type_ = "H"


class c_ulong(_ctypes._SimpleCData):
    _type_ = "L"


class c_uint64(_ctypes._SimpleCData):
    _type_ = "Q"


class c_void_p(_ctypes._SimpleCData):
    _type_ = "P"


class c_char(_ctypes._SimpleCData):
    _type_ = "c"


c_uint32 = c_uint  # as ctypes on Linux, where int is 32 bits


class _Function(_ctypes.CFuncPtr):
    """A C function returning int; errno saved after each call (ctypes' use_errno=True)."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class Library:
    """A loaded shared object (None: the program with its libc), functions as attributes,
    as ctypes.CDLL(name, use_errno=True)."""

    def __init__(self, name: str | None = None) -> None:
        self._name = name
        self._handle = _ctypes.dlopen(name, _ctypes.RTLD_LOCAL)

    def __getattr__(self, name: str) -> _Function:
        if name.startswith("_"):
            raise AttributeError(name)
        function = _Function((name, self))
        setattr(self, name, function)
        return function


def bytes_buffer(data: bytes):
    """A C copy of data that stays put while the object lives (ctypes.create_string_buffer)."""
    return (c_char * len(data)).from_buffer_copy(data)
