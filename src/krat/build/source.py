"""Where `krat build` gets its context and Dockerfile: a directory, a tar file, or `-`.

`-` reads standard input: a tar archive (plain or compressed) is the context; any
other text is the Dockerfile itself, with an empty context (as `docker build - <
Dockerfile` does). Tars are unpacked with the store's safe unpacker into a private
temporary directory that `close()` removes.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from krat.build.context import Context
from krat.errors import InvalidArgument, NotFound

_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


@dataclass
class Source:
    context: Context
    dockerfile: str
    filename: str
    temp: Path | None = None

    def close(self) -> None:
        if self.temp is not None:
            shutil.rmtree(self.temp, ignore_errors=True)
            self.temp = None


def is_tar(head: bytes) -> bool:
    return any(head.startswith(m) for m in _MAGIC) or (len(head) >= 262 and head[257:262] == b"ustar")


def _unpack(stream: BinaryIO, tmp_root: Path) -> Path:
    from krat.store.apply import apply_tar
    from krat.store.compression import decompressed

    tmp_root.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix="context-", dir=tmp_root))
    try:
        (temp / "ctx").mkdir()
        apply_tar(decompressed(stream), temp / "ctx", privileged=False)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return temp


def _read_dockerfile(path: Path, shown: str) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        raise NotFound(f"cannot read {shown}: no such file") from None
    except IsADirectoryError:
        raise InvalidArgument(f"cannot read {shown}: it is a directory") from None


def open_source(location: str, dockerfile: str | None, stdin: BinaryIO, tmp_root: Path) -> Source:
    temp = None
    if location == "-" or (Path(location).is_file()):
        data = stdin.read() if location == "-" else Path(location).read_bytes()
        if not is_tar(data[:512]):
            if location != "-":
                raise InvalidArgument(f"build context {location} is neither a directory nor a tar archive")
            temp = Path(tempfile.mkdtemp(prefix="context-", dir=_mk(tmp_root)))
            (temp / "ctx").mkdir()
            return Source(Context.from_directory(temp / "ctx"), data.decode(errors="surrogateescape"),
                          "Dockerfile", temp)
        temp = _unpack(io.BytesIO(data), tmp_root)
        root = temp / "ctx"
    else:
        root = Path(location)
        if not root.is_dir():
            raise NotFound(f"unable to prepare context: path {location!r} not found")
    try:
        return _with_dockerfile(root, dockerfile, stdin, temp)
    except BaseException:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
        raise


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _with_dockerfile(root: Path, dockerfile: str | None, stdin: BinaryIO, temp: Path | None) -> Source:
    if dockerfile == "-":
        text = stdin.read().decode(errors="surrogateescape")
        return Source(Context.from_directory(root), text, "Dockerfile", temp)
    if dockerfile is None:
        path, shown = root / "Dockerfile", "Dockerfile"
        if not path.exists() and (root / "dockerfile").exists():
            path = root / "dockerfile"
    elif temp is not None:
        path, shown = root / dockerfile, dockerfile
    else:
        path, shown = Path(dockerfile), dockerfile
    text = _read_dockerfile(path, shown)
    own_ignore = Path(str(path) + ".dockerignore")
    ctx = Context.from_directory(root, own_ignore if own_ignore.is_file() else None)
    return Source(ctx, text, Path(shown).name if dockerfile is None else shown, temp)
