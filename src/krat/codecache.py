"""The compiled code of the modules krat's commands load, in one file read by one finder.

Python finds each module by trying every sys.path entry in turn (krat's tree, site-packages,
the stdlib zip, the stdlib), stats the source, then opens and reads its .pyc: ~30 us a module
before its code runs. `krat run` loads ~100 modules in the CLI and the monitor's runtime
child, ~3 ms of a ~30 ms run. Python freezes its own start-up modules for the same reason.

The cache file holds a small index (module name -> source path, its mtime and size, where
its code is) and then each module's marshalled code. The finder, first on sys.meta_path,
answers from the index after one stat of the source; a source whose mtime or size changed,
or a module the index lacks, falls through to Python's own finders, so an edited module is
always the one that runs. A file written by another Python (magic number) is ignored.

`scripts/setup.sh` writes the cache (`python -m krat.codecache build FILE`) and krat's
launchers install it (scripts/launcher.py). Only the standard library is imported here:
this module loads before everything else.
"""

from __future__ import annotations

import marshal
import os
import sys
# What importlib.machinery and importlib.util give, from the frozen modules they re-export
# (those two would load contextlib, functools and more on every command).
from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import MAGIC_NUMBER, ExtensionFileLoader

_HEAD = b"KRATCODE1"    # then MAGIC_NUMBER, then the index's length (8 bytes, little endian)
_PREFIX = len(_HEAD) + len(MAGIC_NUMBER) + 8


class CachedCode:
    """The loader of one module whose code the cache holds."""

    __slots__ = ("cache", "offset", "length", "origin", "data")

    def __init__(self, cache: CodeCache, offset: int, length: int, origin: str, data: bytes) -> None:
        self.cache, self.offset, self.length, self.origin = cache, offset, length, origin
        self.data: bytes | None = data   # read by find_spec, dropped once the module runs

    def create_module(self, spec: ModuleSpec) -> None:
        return None   # the default module object

    def get_code(self, fullname: str):
        data, self.data = self.data, None   # kept, it would hold ~1 MB over a command's life
        if data is None:
            data = self.cache.read(self.offset, self.length)
            if data is None:
                raise ImportError(f"krat's code cache changed while {fullname} loaded", name=fullname)
        return marshal.loads(data)

    def exec_module(self, module) -> None:
        exec(self.get_code(module.__name__), module.__dict__)

    def get_source(self, fullname: str) -> str | None:
        """For tracebacks and inspect (linecache asks the loader when the file is gone)."""
        try:
            with open(self.origin, encoding="utf-8") as f:
                return f.read()
        except OSError:
            return None


class CodeCache:
    """A sys.meta_path finder over one cache file's index."""

    def __init__(self, file: str, identity: tuple[int, int, int], index: dict, base: int, fd: int = -1) -> None:
        self.file, self.identity, self.index, self.base = file, identity, index, base
        self.fd = fd   # the file the index came from, kept open (see read)

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        entry = self.index.get(fullname)
        if entry is None:
            return None
        origin, is_package, mtime_ns, size, offset, length = entry
        try:
            st = os.stat(origin)
        except OSError:
            return None
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            return None   # changed since the cache was written: Python's finders load the new code
        if offset < 0:
            loader = ExtensionFileLoader(fullname, origin)
        else:
            data = self.read(self.base + offset, length)
            if data is None:
                return None
            loader = CachedCode(self, self.base + offset, length, origin, data)
        spec = ModuleSpec(fullname, loader, origin=origin, is_package=is_package)
        spec.has_location = True   # gives the module __file__ (and __cached__) as Python's would
        if is_package:
            spec.submodule_search_locations = [os.path.dirname(origin)]
        return spec

    def read(self, offset: int, length: int) -> bytes | None:
        """The bytes at offset in the file the index came from; None if that file is gone
        or was replaced since (a rebuild). Read through the descriptor the index was read
        from, kept open (a pread, not an open, fstat, pread and close: ~5 us less a
        module): see _checked."""
        if not self._checked():
            return None
        try:
            data = os.pread(self.fd, length, offset)
        except OSError:
            return None
        return data if len(data) == length else None

    def _checked(self) -> bool:
        """Whether self.fd is the file the index came from, opened again if need be: a forked
        monitor closes every descriptor it inherits (and its number may then name another
        file, not ours to close), a started one lets it go (release). Close-on-exec: no
        container's process gets it."""
        try:
            if _identity(os.fstat(self.fd)) == self.identity:
                return True
        except OSError:
            pass
        self.fd = -1
        try:
            fd = os.open(self.file, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            same = _identity(os.fstat(fd)) == self.identity
        except OSError:
            same = False
        if not same:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def invalidate_caches(self) -> None:
        pass


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_dev, st.st_ino, st.st_mtime_ns


def read_index(file: str) -> CodeCache | None:
    """A finder over the cache in `file`, if this interpreter, with this sys.path, can use it."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        identity = _identity(os.fstat(fd))
        head = os.read(fd, _PREFIX)
        if len(head) != _PREFIX or not head.startswith(_HEAD + MAGIC_NUMBER):
            raise ValueError("not a cache of this Python's")
        length = int.from_bytes(head[-8:], "little")
        data = os.read(fd, length)
        if len(data) != length:
            raise ValueError("truncated")
        paths, index = marshal.loads(data)
        if paths != _search_path():
            # Another search order (PYTHONPATH, another venv) may find other files; so may a
            # module or package added to, or removed from, a folder on the path since the
            # cache was written (a folder's mtime tells), ahead of the one the cache knows.
            raise ValueError("another search path")
    except (OSError, EOFError, ValueError, TypeError):
        os.close(fd)
        return None
    return CodeCache(file, identity, index, _PREFIX + length, fd)


def _search_path() -> list[tuple[str, int]]:
    """sys.path without repeats (the order in which Python's finders look), each entry with
    its mtime."""
    return _stamped(list(dict.fromkeys(sys.path)))


def _stamped(paths: list[str]) -> list[tuple[str, int]]:
    found = []
    for path in paths:
        try:
            found.append((path, os.stat(path).st_mtime_ns))
        except OSError:
            found.append((path, -1))   # none there
    return found


def install(file: str) -> None:
    """Put a finder over `file` first on sys.meta_path; a missing or unusable file changes nothing."""
    finder = read_index(file)
    if finder is not None:
        sys.meta_path.insert(0, finder)


def release() -> None:
    """Close the descriptor the finder keeps (it opens the file again if a module is still to
    load): for a process that lives on once started, as a container's monitor does, so that
    it does not hold a cache the setup has replaced since."""
    for finder in sys.meta_path:
        if isinstance(finder, CodeCache) and finder.fd >= 0:
            try:
                os.close(finder.fd)
            except OSError:
                pass
            finder.fd = -1


def entries(modules: dict) -> list[tuple[str, str, bool]]:
    """(name, source path, is a package) of each loaded module that a file on disk defines:
    .py sources and extension modules, not builtins, frozen or namespace modules."""
    found = []
    for name, module in sorted(modules.items()):
        spec = getattr(module, "__spec__", None)
        origin = getattr(spec, "origin", None)
        if spec is None or not spec.has_location or not isinstance(origin, str):
            continue
        if spec.name != name:
            continue   # an alias (os.path): importing the name itself may find another file
        if origin.endswith(".py") or isinstance(spec.loader, ExtensionFileLoader):
            found.append((name, origin, spec.submodule_search_locations is not None))
    return found


def write(file: str, modules: list[tuple[str, str, bool]], paths: list[tuple[str, int]]) -> int:
    """Write a cache of `modules` (see entries), found along the search path `paths` (see
    _search_path), to `file` atomically; returns how many modules it holds."""
    index, blobs, offset = {}, [], 0
    for name, origin, is_package in modules:
        try:
            st, blob = _compiled(origin)
        except (OSError, SyntaxError, ValueError):
            continue   # left to Python's finders
        if st is None:
            continue   # written to while read: left to Python's finders
        index[name] = (origin, is_package, st.st_mtime_ns, st.st_size, offset if blob else -1, len(blob))
        blobs.append(blob)
        offset += len(blob)
    head = marshal.dumps((paths, index))   # offsets count from the end of the index
    tmp = f"{file}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(_HEAD + MAGIC_NUMBER + len(head).to_bytes(8, "little") + head)
            for blob in blobs:
                f.write(blob)
        os.replace(tmp, file)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(index)


def _compiled(origin: str) -> tuple[os.stat_result | None, bytes]:
    """The source's stat and its marshalled code (b"" for an extension module); no stat if the
    file changed while it was read."""
    if not origin.endswith(".py"):
        return os.stat(origin), b""
    with open(origin, "rb") as f:
        before = os.fstat(f.fileno())
        source = f.read()
        after = os.fstat(f.fileno())
    if (before.st_mtime_ns, before.st_size) != (after.st_mtime_ns, after.st_size):
        return None, b""
    # As importlib compiles a source (source_to_code).
    return after, marshal.dumps(compile(source, origin, "exec", dont_inherit=True))


def build(file: str) -> int:
    """Import every krat module (with what each loads) and write their cache to `file`."""
    import importlib
    import pkgutil

    import krat

    order = list(dict.fromkeys(sys.path))   # before any module can change it
    for info in pkgutil.walk_packages(krat.__path__, "krat."):
        if not info.name.endswith("__main__"):
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - a module that cannot load here is left to Python's finders
                pass
    # The folders' mtimes after the imports, which may have written bytecode there.
    return write(file, entries(sys.modules), _stamped(order))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "build":
        print("usage: python -m krat.codecache build FILE", file=sys.stderr)
        return 2
    count = build(args[1])
    print(f"{args[1]}: {count} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
