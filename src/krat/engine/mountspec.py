"""Parsing `-v`, `--mount` and `--tmpfs` into typed mount requests, pure.

Docker's syntax. One deliberate difference: `-v /missing/host/dir:/path` is an error
(as Podman, and as the issue asks), where Docker would create the directory as root.
"""

from __future__ import annotations

from krat.engine.spec import is_name  # not a compiled `re` at import (~0.1 ms on `krat run`)
from krat.errors import InvalidArgument
from krat.oci.records import field, record, replace

PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")


@record(frozen=True)
class MountRequest:
    type: str                 # volume | bind | tmpfs
    target: str
    source: str = ""          # volume name ('' = anonymous), host path, or ''
    readonly: bool = False
    nocopy: bool = False      # volume: do not fill a new volume from the image
    chown: bool = False       # ':U': chown the source to the container's user
    propagation: str = "rprivate"
    tmpfs_size: int | None = None
    tmpfs_mode: int | None = None
    # How it was asked for ("-v TEXT" as typed, "--mount", "--volumes-from REF", or ""), for
    # inspect's HostConfig; not part of what the mount is.
    given: str = field(default="", compare=False)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, doc: dict) -> "MountRequest":
        return cls(**doc)


def check_volume_name(name: str) -> str:
    if not is_name(name):   # [a-zA-Z0-9][a-zA-Z0-9_.-]+
        raise InvalidArgument(f"invalid volume name {name!r}: use at least two of letters, digits, '_', '.', '-'"
                              " (a host path must be absolute)")
    return name


def _target(path: str, flag: str) -> str:
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid {flag}: mount target {path!r} is not an absolute path")
    if path.rstrip("/") == "":
        raise InvalidArgument(f"invalid {flag}: cannot mount over /")
    return path.rstrip("/") or "/"


def parse_volume(text: str) -> MountRequest:
    """`-v [SOURCE:]TARGET[:OPTIONS]` (OPTIONS: ro, rw, U, nocopy, z, Z, propagation)."""
    parts = text.split(":")
    if len(parts) == 1:
        return MountRequest("volume", _target(parts[0], f"-v {text!r}"))
    if len(parts) > 3:
        raise InvalidArgument(f"invalid -v {text!r}: too many colons")
    source, target = parts[0], parts[1]
    options = parts[2].split(",") if len(parts) == 3 else []
    if len(parts) == 2 and not target.startswith("/"):
        # `-v /ctr/path:ro`: an anonymous volume with options
        source, target, options = "", source, target.split(",")
    req = MountRequest("bind" if source.startswith("/") else "volume", _target(target, f"-v {text!r}"), source,
                       given=f"-v {text}")
    if req.type == "volume" and source:
        check_volume_name(source)
    for opt in options:
        if opt in ("ro", "readonly"):
            req = replace(req, readonly=True)
        elif opt == "rw":
            req = replace(req, readonly=False)
        elif opt == "U":
            req = replace(req, chown=True)
        elif opt == "nocopy":
            req = replace(req, nocopy=True)
        elif opt in PROPAGATIONS:
            req = replace(req, propagation=opt)
        elif opt in ("z", "Z", "delegated", "cached", "consistent", ""):
            continue  # SELinux relabel and macOS consistency hints: nothing to do here
        else:
            raise InvalidArgument(f"invalid -v {text!r}: unknown option {opt!r}")
    return req


def _bool(value: str, key: str, text: str) -> bool:
    if value in ("", "1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise InvalidArgument(f"invalid --mount {text!r}: {key} takes true or false")


def parse_mount(text: str) -> MountRequest:
    """`--mount type=volume|bind|tmpfs,source=..,target=..,readonly,volume-nocopy,tmpfs-size=..`."""
    fields: dict[str, str] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        fields[key.strip().lower()] = value.strip()
    kind = fields.pop("type", "volume")
    if kind not in ("volume", "bind", "tmpfs"):
        raise InvalidArgument(f"invalid --mount {text!r}: type must be volume, bind or tmpfs")
    source = fields.pop("source", fields.pop("src", ""))
    target = fields.pop("target", fields.pop("destination", fields.pop("dst", "")))
    if not target:
        raise InvalidArgument(f"invalid --mount {text!r}: target is required")
    req = MountRequest(kind, _target(target, f"--mount {text!r}"), source, given="--mount")
    if kind == "bind" and not source.startswith("/"):
        raise InvalidArgument(f"invalid --mount {text!r}: bind source must be an absolute path")
    if kind == "volume" and source:
        check_volume_name(source)
    if kind == "tmpfs" and source:
        raise InvalidArgument(f"invalid --mount {text!r}: tmpfs takes no source")
    for key, value in fields.items():
        if key in ("readonly", "ro"):
            req = replace(req, readonly=_bool(value, key, text))
        elif key == "volume-nocopy" and kind == "volume":
            req = replace(req, nocopy=_bool(value, key, text))
        elif key == "bind-propagation" and kind == "bind" and value in PROPAGATIONS:
            req = replace(req, propagation=value)
        elif key == "tmpfs-size" and kind == "tmpfs":
            req = replace(req, tmpfs_size=size_with_units(value))
        elif key == "tmpfs-mode" and kind == "tmpfs":
            try:
                req = replace(req, tmpfs_mode=int(value, 8))
            except ValueError:
                raise InvalidArgument(f"invalid --mount {text!r}: tmpfs-mode must be octal") from None
        elif key in ("consistency", "volume-driver") and value in ("", "local", "default", "consistent",
                                                                   "cached", "delegated"):
            continue
        else:
            raise InvalidArgument(f"invalid --mount {text!r}: unexpected key {key!r} for type {kind}")
    return req


def parse_tmpfs(text: str) -> MountRequest:
    """`--tmpfs /path[:size=64m,mode=1777,...]`."""
    target, _, opts = text.partition(":")
    req = MountRequest("tmpfs", _target(target, f"--tmpfs {text!r}"))
    for opt in filter(None, opts.split(",")):
        key, _, value = opt.partition("=")
        if key == "size":
            req = replace(req, tmpfs_size=size_with_units(value))
        elif key == "mode":
            req = replace(req, tmpfs_mode=int(value, 8))
        elif key == "ro":
            req = replace(req, readonly=True)
    return req


def size_with_units(value: str) -> int:
    """'1m' -> 1048576 (binary units, as Docker's RAMInBytes)."""
    units = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    import re

    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", value.strip().lower())
    if not match:
        raise InvalidArgument(f"invalid size {value!r}: expected a number with an optional unit k, m, g")
    return int(float(match.group(1)) * units[match.group(2)])
