"""The image config a stage accumulates, and the metadata-only instructions (pure).

Field names and shapes are Docker's (`config.Env`, `ExposedPorts: {"80/tcp": {}}`,
`Healthcheck.Interval` in nanoseconds, `OnBuild` as the trigger lines), so images
built here run the same under Docker. History entries follow BuildKit's
`created_by` strings; `empty_layer` marks steps that made no layer.
"""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass, field

from krat.errors import InvalidArgument

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1000, "µs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


@dataclass
class ImageState:
    """What a stage has so far: config (Docker's `config` object) and history."""

    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    os: str = "linux"
    architecture: str = "amd64"
    author: str = ""

    def clone(self) -> "ImageState":
        return ImageState(copy.deepcopy(self.config), copy.deepcopy(self.history), self.os, self.architecture,
                          self.author)

    # -- env ------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        out = {}
        for item in self.config.get("Env") or []:
            key, _, value = item.partition("=")
            out[key] = value
        return out

    def set_env(self, key: str, value: str) -> None:
        items = list(self.config.get("Env") or [])
        for i, item in enumerate(items):
            if item.partition("=")[0] == key:
                items[i] = f"{key}={value}"
                break
        else:
            items.append(f"{key}={value}")
        self.config["Env"] = items

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    @property
    def workdir(self) -> str:
        return self.config.get("WorkingDir") or "/"

    def add_history(self, created_by: str, empty_layer: bool, created: str) -> None:
        entry = {"created": created, "created_by": created_by, "comment": "krat build"}
        if empty_layer:
            entry["empty_layer"] = True
        self.history.append(entry)


def from_base(base_doc: dict | None) -> ImageState:
    """A stage's starting state: the base image's config (scratch: an empty one with PATH)."""
    if not base_doc:
        state = ImageState()
        state.config = {"Env": [f"PATH={DEFAULT_PATH}"]}
        return state
    state = ImageState(copy.deepcopy(base_doc.get("config") or {}), copy.deepcopy(base_doc.get("history") or []),
                       base_doc.get("os") or "linux", base_doc.get("architecture") or "amd64")
    # ONBUILD triggers belong to the image that declared them; they run once, here.
    state.config.pop("OnBuild", None)
    if not any(e.startswith("PATH=") for e in state.config.get("Env") or []):
        state.set_env("PATH", DEFAULT_PATH)
    return state


def normalize_workdir(current: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(current or "/", path)) if path else current


def parse_duration(text: str, what: str) -> int:
    """Go duration ('30s', '1m30s', '500ms') -> nanoseconds."""
    if text in ("0", ""):
        return 0
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise InvalidArgument(f"invalid duration {text!r} for {what}")
    return int(total)


def port_key(spec: str) -> list[str]:
    """EXPOSE '80', '80/udp', '8000-8002' -> ['80/tcp'], ...; Docker's ExposedPorts keys."""
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid protocol {proto!r} in EXPOSE {spec}")
    low, _, high = port.partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        raise InvalidArgument(f"invalid port {spec!r} in EXPOSE") from None
    if not (0 < first <= last <= 65535):
        raise InvalidArgument(f"invalid port range {spec!r} in EXPOSE")
    return [f"{p}/{proto}" for p in range(first, last + 1)]


def healthcheck(args: list[str], is_json: bool, flags: dict[str, str]) -> dict:
    """HEALTHCHECK [flags] CMD ... | NONE -> Docker's Healthcheck object."""
    if not args:
        raise InvalidArgument("HEALTHCHECK requires an argument (CMD ... or NONE)")
    kind = args[0].upper()
    if kind == "NONE":
        if len(args) > 1 or flags:
            raise InvalidArgument("HEALTHCHECK NONE takes no other arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise InvalidArgument(f"unknown HEALTHCHECK type {args[0]!r}: expected CMD or NONE")
    if len(args) < 2:
        raise InvalidArgument("HEALTHCHECK CMD needs a command")
    test = ["CMD", *args[1:]] if is_json else ["CMD-SHELL", args[1]]
    out: dict = {"Test": test}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):
        if flag in flags:
            out[key] = parse_duration(flags[flag], f"--{flag}")
    if "retries" in flags:
        try:
            out["Retries"] = int(flags["retries"])
        except ValueError:
            raise InvalidArgument(f"invalid --retries {flags['retries']!r}") from None
    unknown = set(flags) - {"interval", "timeout", "start-period", "start-interval", "retries"}
    if unknown:
        raise InvalidArgument(f"unknown flag --{sorted(unknown)[0]} for HEALTHCHECK")
    return out


def command_line(state: ImageState, args: list[str], is_json: bool) -> list[str]:
    """CMD/ENTRYPOINT/RUN argv: exec form as is, shell form through the image's SHELL."""
    if is_json:
        return list(args)
    return [*state.shell, " ".join(args)] if args else []


def config_document(state: ImageState, diff_ids: list[str], created: str) -> dict:
    """The full image config JSON (OCI image config, Docker's extra fields kept)."""
    config = {k: v for k, v in state.config.items() if v not in (None, [], {})}
    doc = {
        "architecture": state.architecture,
        "os": state.os,
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": state.history,
    }
    if state.author:
        doc["author"] = state.author
    return doc
