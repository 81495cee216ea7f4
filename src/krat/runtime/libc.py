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
import os

Structure = _ctypes.Structure
addressof = _ctypes.addressof
byref = _ctypes.byref
get_errno = _ctypes.get_errno


def _simple(name: str, code: str) -> type:
    """A C scalar type, as ctypes defines each of its own (struct module codes)."""
    return type(name, (_ctypes._SimpleCData,), {"_type_": code, "__module__": __name__})


c_int = _simple("c_int", "i")      # every function's result
c_ulong = _simple("c_ulong", "L")  # mount(2)'s flags: the one call of `krat run`'s own process

# The others are made on first use (module __getattr__): ~0.1 ms of type building that the
# CLI, which only mounts and unmounts, does not need.
_LATER = {"c_uint": "I", "c_ushort": "H", "c_uint64": "Q", "c_void_p": "P", "c_char": "c"}


def __getattr__(name: str) -> type:
    if name in globals():  # a direct call (bytes_buffer) after the first
        return globals()[name]
    if name == "c_uint32":  # as ctypes on Linux, where int is 32 bits
        made = globals()["c_uint32"] = __getattr__("c_uint")
        return made
    code = _LATER.get(name)
    if code is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    made = globals()[name] = _simple(name, code)
    return made


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
    return (__getattr__("c_char") * len(data)).from_buffer_copy(data)


_process: Library | None = None


def process() -> Library:
    """This process' own libc (dlopen(NULL): the interpreter links it), loaded once."""
    global _process
    if _process is None:
        _process = Library(None)
    return _process


def umount2(target: str | bytes, flags: int = 0) -> int:
    """umount2(2): 0, or the errno."""
    if process().umount2(os.fsencode(target), flags) == 0:
        return 0
    return get_errno()
