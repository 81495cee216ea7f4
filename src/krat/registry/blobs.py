"""Blob transfers: verified, resumable downloads and uploads (monolithic, chunked, mounted).

Downloads hash while they stream and resume a broken connection with a Range request;
nothing is trusted until the whole blob matches its digest and size. Uploads first ask
(HEAD) whether the registry has the blob, then try a cross-repository mount, then upload.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

from krat.errors import Unavailable
from krat.oci.digest import Digest
from krat.registry.client import RegistryClient
from krat.registry.media import Descriptor

CHUNK = 1 << 20
MAX_RESUMES = 4
RESUME_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)

Progress = Callable[[int], None]  # bytes done so far for this blob


class Pushed(enum.Enum):
    EXISTS = "Layer already exists"
    MOUNTED = "Mounted"
    UPLOADED = "Pushed"


class Sink(Protocol):
    """Where a download goes: bytes appended in order; `restart` discards them all."""

    def write(self, data: bytes) -> object: ...

    def restart(self) -> None: ...


class FileSink:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def write(self, data: bytes) -> object:
        return self.f.write(data)

    def restart(self) -> None:
        self.f.seek(0)
        self.f.truncate()


class _Broken(Exception):
    """The body stopped before the descriptor's size: resume it."""


def download(client: RegistryClient, repo: str, desc: Descriptor, out: "BinaryIO | Sink",
             progress: Progress | None = None) -> None:
    """Stream blob `desc` of `repo` into `out` (an empty seekable file, or a Sink) and verify it."""
    import httpx

    what = f"blob {desc.digest} of {client.host}/{repo}"
    state = _Download(desc, out if hasattr(out, "restart") else FileSink(out))  # type: ignore[arg-type]
    for attempt in range(MAX_RESUMES + 1):
        try:
            _fetch_from(client, repo, state, what, progress)
            break
        except (httpx.TransportError, _Broken) as err:
            if attempt == MAX_RESUMES:
                raise Unavailable(f"{what}: download failed after {attempt + 1} attempts: "
                                  f"{_reason(err)} at byte {state.written} of {desc.size}") from err
            client.sleep(RESUME_BACKOFF_S[attempt])
    state.verify(what)


class _Download:
    def __init__(self, desc: Descriptor, out: Sink) -> None:
        self.desc = desc
        self.out = out
        # A sink that hashes already (the content store's writer) saves a second pass.
        self.own_hash = not (desc.digest.algorithm == "sha256" and hasattr(out, "digest"))
        self.restart(first=True)

    def restart(self, first: bool = False) -> None:
        if not first:
            self.out.restart()
        self.hasher = self.desc.digest.hasher() if self.own_hash else None
        self.written = 0

    def add(self, chunk: bytes, what: str) -> None:
        if self.written + len(chunk) > self.desc.size:
            raise Unavailable(f"{what}: the registry sent more than the {self.desc.size} bytes its manifest lists")
        self.out.write(chunk)
        if self.hasher is not None:
            self.hasher.update(chunk)
        self.written += len(chunk)

    def verify(self, what: str) -> None:
        got = self.hasher.hexdigest() if self.hasher is not None else self.out.digest.hex  # type: ignore[attr-defined]
        if got != self.desc.digest.hex:
            raise Unavailable(f"{what}: digest mismatch: the registry sent content with digest "
                              f"{self.desc.digest.algorithm}:{got}")


def _fetch_from(client: RegistryClient, repo: str, state: _Download, what: str, progress: Progress | None) -> None:
    headers = {"Range": f"bytes={state.written}-"} if state.written else {}
    resp = client.request("GET", f"/v2/{repo}/blobs/{state.desc.digest}", what=what,
                          scopes=(f"repository:{repo}:pull",), headers=headers, expect=(200, 206), stream=True)
    try:
        if state.written and not _resumes_at(resp, state.written):
            state.restart()  # the server ignored or mangled Range: start over
        # iter_raw yields what each socket read returns: bytes received before a broken
        # connection are kept (a re-chunking iterator would drop them), so Range resumes there.
        for chunk in resp.iter_raw():
            state.add(chunk, what)
            if progress:
                progress(state.written)
    finally:
        resp.close()
    if state.written < state.desc.size:
        raise _Broken(f"connection closed early")


def _resumes_at(resp, offset: int) -> bool:
    if resp.status_code != 206:
        return False
    value = resp.headers.get("Content-Range", "")  # "bytes 100-199/200"
    try:
        return int(value.split()[1].split("-")[0]) == offset
    except (IndexError, ValueError):
        return False


def _reason(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0]


def exists(client: RegistryClient, repo: str, desc: Descriptor, scopes: tuple[str, ...]) -> bool:
    resp = client.request("HEAD", f"/v2/{repo}/blobs/{desc.digest}", what=f"blob {desc.digest} of {repo}",
                          scopes=scopes, expect=(200, 404))
    return resp.status_code == 200


def place(client: RegistryClient, repo: str, desc: Descriptor,
          mount_from: tuple[str, ...] = ()) -> "Pushed | str":
    """Skip (HEAD) or mount `desc` into `repo`; else open an upload and return its location."""
    scopes = push_scopes(repo, mount_from)
    what = f"blob {desc.digest} to {client.host}/{repo}"
    if exists(client, repo, desc, scopes):
        return Pushed.EXISTS
    for source in (s for s in mount_from if s != repo):
        resp = client.request("POST", f"/v2/{repo}/blobs/uploads/", what=what, scopes=scopes,
                              params={"mount": str(desc.digest), "from": source}, expect=(201, 202))
        if resp.status_code == 201:
            return Pushed.MOUNTED
        return _location(resp, what)  # the registry opened an upload instead
    return start_upload(client, repo, scopes, what)


def push_scopes(repo: str, mount_from: tuple[str, ...] = ()) -> tuple[str, ...]:
    return (f"repository:{repo}:pull,push", *(f"repository:{src}:pull" for src in mount_from if src != repo))


def start_upload(client: RegistryClient, repo: str, scopes: tuple[str, ...], what: str) -> str:
    resp = client.request("POST", f"/v2/{repo}/blobs/uploads/", what=what, scopes=scopes, expect=(202,))
    return _location(resp, what)


def _location(resp, what: str) -> str:
    location = resp.headers.get("Location")
    if not location:
        raise Unavailable(f"{what}: registry did not say where to upload (no Location header)")
    return location


def upload(client: RegistryClient, repo: str, desc: Descriptor, opener: Callable[[], BinaryIO], *,
           mount_from: tuple[str, ...] = (), chunk_size: int | None = None,
           progress: Progress | None = None) -> Pushed:
    """Make `desc` present in `repo`: skip, mount from a sibling repository, or upload."""
    placed = place(client, repo, desc, mount_from)
    if isinstance(placed, Pushed):
        return placed
    scopes = push_scopes(repo, mount_from)
    what = f"blob {desc.digest} to {client.host}/{repo}"
    if chunk_size:
        _chunked(client, placed, desc, opener, chunk_size, scopes, what, progress)
    else:
        _monolithic(client, placed, desc, opener, scopes, what, progress)
    return Pushed.UPLOADED


def upload_stream(client: RegistryClient, repo: str, produce: Callable[[], Iterator[bytes]], *,
                  location: str | None = None, progress: Progress | None = None) -> tuple[Digest, int]:
    """Upload bytes whose digest is not known in advance (e.g. compressed on the fly).

    One streaming PATCH (chunked transfer encoding) while hashing, then the closing PUT
    names the digest; the registry checks it. Returns (digest, size).
    """
    scopes = push_scopes(repo)
    what = f"blob upload to {client.host}/{repo}"
    location = location or start_upload(client, repo, scopes, what)
    result: dict = {}

    def body() -> Iterator[bytes]:
        hasher, size = hashlib.sha256(), 0
        for piece in produce():
            hasher.update(piece)
            size += len(piece)
            yield piece
            if progress:
                progress(size)
        result["digest"], result["size"] = Digest("sha256", hasher.hexdigest()), size

    resp = client.request("PATCH", location, what=what, scopes=scopes,
                          headers={"Content-Type": "application/octet-stream"}, content=body, expect=(202,))
    location = resp.headers.get("Location") or location
    client.request("PUT", location, what=what, scopes=scopes, headers={"Content-Length": "0"},
                   params={"digest": str(result["digest"])}, expect=(201,))
    return result["digest"], result["size"]


def _reader(opener: Callable[[], BinaryIO], start: int, length: int, progress: Progress | None,
            done_before: int = 0) -> Iterator[bytes]:
    with opener() as f:
        f.seek(start)
        left = length
        sent = done_before
        while left > 0:
            data = f.read(min(CHUNK, left))
            if not data:
                raise Unavailable(f"{getattr(f, 'name', 'blob')}: file shorter than its descriptor")
            left -= len(data)
            sent += len(data)
            yield data
            if progress:
                progress(sent)


def _monolithic(client, location, desc, opener, scopes, what, progress) -> None:
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(desc.size)}
    client.request("PUT", location, what=what, scopes=scopes, headers=headers,
                   params={"digest": str(desc.digest)},
                   content=lambda: _reader(opener, 0, desc.size, progress), expect=(201,))


def _chunked(client, location, desc, opener, chunk_size, scopes, what, progress) -> None:
    offset = 0
    while offset < desc.size:
        length = min(chunk_size, desc.size - offset)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length),
                   "Content-Range": f"{offset}-{offset + length - 1}"}
        start = offset
        resp = client.request("PATCH", location, what=what, scopes=scopes, headers=headers,
                              content=lambda: _reader(opener, start, length, progress, start), expect=(202,))
        location = resp.headers.get("Location") or location
        offset += length
    client.request("PUT", location, what=what, scopes=scopes, headers={"Content-Length": "0"},
                   params={"digest": str(desc.digest)}, expect=(201,))
