"""`process`, `root` and `mounts` of the OCI runtime spec."""

from __future__ import annotations

from dataclasses import dataclass, field
TYPE_CHECKING = False  # typing (and re) cost every command ~3 ms at start-up
if TYPE_CHECKING:
    from typing import Any

from krat.oci._json import _bool, _fail, _int, _list, _obj, _str, _strs


# --- process ---------------------------------------------------------------------------

@dataclass(frozen=True)
class User:
    """process.user: who the process runs as."""

    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, d: Any, where: str = "process.user") -> "User":
        d = _obj(d, where)
        gids = tuple(_int(g, f"{where}.additionalGids[{i}]") for i, g in enumerate(_list(d.get("additionalGids"), where)))
        return cls(_int(d.get("uid"), f"{where}.uid", 0), _int(d.get("gid"), f"{where}.gid", 0),
                   _int(d.get("umask"), f"{where}.umask"), gids)  # type: ignore[arg-type]

    def to_json(self) -> dict:
        out: dict = {"uid": self.uid, "gid": self.gid}
        if self.umask is not None:
            out["umask"] = self.umask
        if self.additional_gids:
            out["additionalGids"] = list(self.additional_gids)
        return out


CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


@dataclass(frozen=True)
class Capabilities:
    """process.capabilities: the five capability sets, by name."""

    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Any, where: str = "process.capabilities") -> "Capabilities":
        d = _obj(d, where)
        return cls(**{s: _strs(d.get(s), f"{where}.{s}") for s in CAP_SETS})

    def to_json(self) -> dict:
        return {s: list(getattr(self, s)) for s in CAP_SETS}


@dataclass(frozen=True)
class Rlimit:
    """One entry of process.rlimits."""

    type: str
    hard: int
    soft: int

    @classmethod
    def from_json(cls, d: Any, where: str) -> "Rlimit":
        d = _obj(d, where)
        kind = _str(d.get("type"), f"{where}.type")
        if not kind.startswith("RLIMIT_"):
            raise _fail(f"{where}.type", f"unknown rlimit {kind!r}")
        return cls(kind, _int(d.get("hard"), f"{where}.hard", 0), _int(d.get("soft"), f"{where}.soft", 0))  # type: ignore[arg-type]

    def to_json(self) -> dict:
        return {"type": self.type, "hard": self.hard, "soft": self.soft}


@dataclass(frozen=True)
class Process:
    """process: what to run, as whom, with which terminal and limits."""

    args: tuple[str, ...]
    cwd: str = "/"
    env: tuple[str, ...] = ()
    terminal: bool = False
    console_size: tuple[int, int] | None = None  # (height, width)
    user: User = field(default_factory=User)
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    oom_score_adj: int | None = None

    @classmethod
    def from_json(cls, d: Any, where: str = "process") -> "Process":
        d = _obj(d, where)
        args = _strs(d.get("args"), f"{where}.args")
        if not args or not args[0]:
            raise _fail(f"{where}.args", "must name a program to run")
        cwd = _str(d.get("cwd"), f"{where}.cwd", "/")
        if not cwd.startswith("/"):
            raise _fail(f"{where}.cwd", f"must be an absolute path, not {cwd!r}")
        env = _strs(d.get("env"), f"{where}.env")
        for i, item in enumerate(env):
            if "=" not in item:
                raise _fail(f"{where}.env[{i}]", f"expected NAME=VALUE, got {item!r}")
        size = None
        if d.get("consoleSize") is not None:
            cs = _obj(d["consoleSize"], f"{where}.consoleSize")
            size = (_int(cs.get("height"), f"{where}.consoleSize.height", 0),
                    _int(cs.get("width"), f"{where}.consoleSize.width", 0))
        caps = Capabilities.from_json(d["capabilities"]) if d.get("capabilities") is not None else None
        rlimits = tuple(Rlimit.from_json(r, f"{where}.rlimits[{i}]") for i, r in enumerate(_list(d.get("rlimits"), where)))
        return cls(args, cwd, env, _bool(d.get("terminal"), f"{where}.terminal"), size,  # type: ignore[arg-type]
                   User.from_json(d.get("user"), f"{where}.user"), caps, rlimits,
                   _bool(d.get("noNewPrivileges"), f"{where}.noNewPrivileges"),
                   _int(d.get("oomScoreAdj"), f"{where}.oomScoreAdj"))

    def to_json(self) -> dict:
        out: dict = {"terminal": self.terminal, "user": self.user.to_json(), "args": list(self.args),
                     "env": list(self.env), "cwd": self.cwd}
        if self.console_size:
            out["consoleSize"] = {"height": self.console_size[0], "width": self.console_size[1]}
        if self.capabilities is not None:
            out["capabilities"] = self.capabilities.to_json()
        if self.rlimits:
            out["rlimits"] = [r.to_json() for r in self.rlimits]
        if self.no_new_privileges:
            out["noNewPrivileges"] = True
        if self.oom_score_adj is not None:
            out["oomScoreAdj"] = self.oom_score_adj
        return out


# --- mounts, root -------------------------------------------------------------------------

@dataclass(frozen=True)
class Mount:
    """One entry of mounts."""

    destination: str
    type: str = ""
    source: str = ""
    options: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Any, where: str) -> "Mount":
        d = _obj(d, where)
        dest = _str(d.get("destination"), f"{where}.destination")
        if not dest.startswith("/"):
            raise _fail(f"{where}.destination", f"must be an absolute path, not {dest!r}")
        return cls(dest, _str(d.get("type"), f"{where}.type"), _str(d.get("source"), f"{where}.source"),
                   _strs(d.get("options"), f"{where}.options"))

    def to_json(self) -> dict:
        out: dict = {"destination": self.destination, "type": self.type, "source": self.source}
        if self.options:
            out["options"] = list(self.options)
        return out


@dataclass(frozen=True)
class Root:
    """root: the container's root filesystem."""

    path: str
    readonly: bool = False

    @classmethod
    def from_json(cls, d: Any, where: str = "root") -> "Root":
        d = _obj(d, where)
        path = _str(d.get("path"), f"{where}.path")
        if not path:
            raise _fail(f"{where}.path", "is required")
        return cls(path, _bool(d.get("readonly"), f"{where}.readonly"))

    def to_json(self) -> dict:
        return {"path": self.path, "readonly": self.readonly}


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


@dataclass(frozen=True)
class Hook:
    """One entry of hooks.<kind>: a program run at a point of the lifecycle, state JSON on stdin."""

    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None

    @classmethod
    def from_json(cls, d: Any, where: str) -> "Hook":
        d = _obj(d, where)
        path = _str(d.get("path"), f"{where}.path")
        if not path.startswith("/"):
            raise _fail(f"{where}.path", f"must be an absolute path, not {path!r}")
        timeout = _int(d.get("timeout"), f"{where}.timeout")
        if timeout is not None and timeout <= 0:
            raise _fail(f"{where}.timeout", "must be more than 0 seconds")
        return cls(path, _strs(d.get("args"), f"{where}.args"), _strs(d.get("env"), f"{where}.env"), timeout)

    def to_json(self) -> dict:
        out: dict = {"path": self.path}
        if self.args:
            out["args"] = list(self.args)
        if self.env:
            out["env"] = list(self.env)
        if self.timeout is not None:
            out["timeout"] = self.timeout
        return out


def hooks_from_json(d: Any, where: str = "hooks") -> tuple[tuple[str, tuple[Hook, ...]], ...]:
    """hooks as ((kind, (Hook, ...)), ...) in HOOK_KINDS order, leaving out empty kinds."""
    d = _obj(d, where)
    for kind in d:
        if kind not in HOOK_KINDS:
            raise _fail(f"{where}.{kind}", f"unknown hook kind (expected one of {', '.join(HOOK_KINDS)})")
    out = []
    for kind in HOOK_KINDS:
        hooks = tuple(Hook.from_json(h, f"{where}.{kind}[{i}]") for i, h in enumerate(_list(d.get(kind), where)))
        if hooks:
            out.append((kind, hooks))
    return tuple(out)
