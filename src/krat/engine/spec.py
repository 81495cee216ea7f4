"""What the user asked for when creating a container (the intent), as typed data.

`ContainerSpec` is stored as JSON with the container and is the only input (with the
image config and a run context) of ocigen. The parsers here turn flag values into
these types; they are pure and raise InvalidArgument with the offending value.
"""

from __future__ import annotations

from krat.errors import InvalidArgument
from krat.oci import records
from krat.oci.records import field, record

# [a-zA-Z0-9] and [a-zA-Z0-9_.-], checked without `re`: on `krat run`'s path, compiling the
# patterns cost ~0.3 ms at import.
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_CHARS = _ALNUM | frozenset("_.-")
RESTART_NAMES = ("no", "on-failure", "always", "unless-stopped")


@record(frozen=True)
class RestartPolicy:
    name: str = "no"
    max_retries: int = 0


@record(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@record(frozen=True)
class Device:
    path_on_host: str
    path_in_container: str
    permissions: str = "rwm"


@record(frozen=True)
class Mount:
    """A mount the engine adds (tmpfs from --tmpfs; binds and volumes from the volume area)."""

    type: str                # "bind" | "tmpfs" | "volume"
    destination: str
    source: str = ""
    options: tuple[str, ...] = ()
    name: str = ""           # volume name, for inspect's Mounts
    rw: bool = True


@record(frozen=True)
class Resources:
    memory: int = 0          # bytes; 0 = unlimited
    memory_swap: int = 0     # bytes of memory+swap; 0 = default (2x memory), -1 = unlimited
    nano_cpus: int = 0       # --cpus x 1e9
    cpu_shares: int = 0
    pids_limit: int = 0      # 0 = unlimited


@record(frozen=True)
class Security:
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    no_new_privileges: bool = False
    seccomp: str = "default"    # "default" | "unconfined" | a profile's JSON text
    read_only: bool = False


@record(frozen=True)
class LogConfig:
    max_size: int = 10 << 20    # krat rotates by default (Docker's default is unbounded)
    max_file: int = 3


@record(frozen=True)
class ContainerSpec:
    image: str                               # the reference as given
    command: tuple[str, ...] = ()            # after the image name; () = the image's Cmd
    entrypoint: tuple[str, ...] | None = None  # None = the image's; () = --entrypoint ''
    env: tuple[str, ...] = ()                # KEY=VALUE, after -e/--env-file resolution
    working_dir: str = ""
    user: str = ""
    hostname: str = ""
    tty: bool = False
    open_stdin: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    restart: RestartPolicy = RestartPolicy()
    stop_signal: str = ""
    stop_timeout: int | None = None
    mounts: tuple[Mount, ...] = ()
    shm_size: int = 64 << 20
    ulimits: tuple[Ulimit, ...] = ()
    devices: tuple[Device, ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()
    network_mode: str = "default"            # default | none | host | container:<id>
    pid_mode: str = ""                       # "" | host
    ipc_mode: str = "private"                # private | shareable | host | none | container:<id>
    resources: Resources = Resources()
    security: Security = Security()
    init: bool = False
    auto_remove: bool = False
    log: LogConfig = LogConfig()
    runtime: str = ""                        # path of an external OCI runtime; "" = krat's default

    def to_json(self) -> dict:
        return records.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ContainerSpec":
        d = dict(data)
        d["restart"] = RestartPolicy(**d.get("restart", {}))
        d["resources"] = Resources(**d.get("resources", {}))
        sec = dict(d.get("security", {}))
        sec["cap_add"], sec["cap_drop"] = tuple(sec.get("cap_add", ())), tuple(sec.get("cap_drop", ()))
        d["security"] = Security(**sec)
        d["log"] = LogConfig(**d.get("log", {}))
        d["mounts"] = tuple(Mount(**{**m, "options": tuple(m.get("options", ()))}) for m in d.get("mounts", ()))
        d["ulimits"] = tuple(Ulimit(**u) for u in d.get("ulimits", ()))
        d["devices"] = tuple(Device(**x) for x in d.get("devices", ()))
        for key in ("command", "env"):
            d[key] = tuple(d.get(key, ()))
        if d.get("entrypoint") is not None:
            d["entrypoint"] = tuple(d["entrypoint"])
        d["labels"] = tuple(tuple(x) for x in d.get("labels", ()))
        d["extra_hosts"] = tuple(tuple(x) for x in d.get("extra_hosts", ()))
        names = {f.name for f in records.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def with_(self, **changes) -> "ContainerSpec":
        return records.replace(self, **changes)


# --- parsers for flag values -------------------------------------------------------------

def is_name(text: str, min_length: int = 2) -> bool:
    """[a-zA-Z0-9][a-zA-Z0-9_.-]*, at least min_length characters (Docker's names)."""
    return len(text) >= min_length and text[0] in _ALNUM and _NAME_CHARS.issuperset(text)


def parse_name(text: str) -> str:
    if not is_name(text[1:] if text.startswith("/") else text):
        raise InvalidArgument(f"invalid container name {text!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return text.lstrip("/")


def parse_restart(text: str) -> RestartPolicy:
    name, _, count = text.partition(":")
    if name not in RESTART_NAMES:
        raise InvalidArgument(f"invalid restart policy {text!r}: expected no, on-failure[:N], always or unless-stopped")
    if count and name != "on-failure":
        raise InvalidArgument(f"invalid restart policy {text!r}: only on-failure takes a maximum retry count")
    try:
        retries = int(count) if count else 0
    except ValueError:
        raise InvalidArgument(f"invalid restart policy {text!r}: {count!r} is not a number") from None
    if retries < 0:
        raise InvalidArgument(f"invalid restart policy {text!r}: the retry count must not be negative")
    return RestartPolicy(name, retries)


def parse_cpus(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise InvalidArgument(f"invalid --cpus {text!r}: expected a number such as 1.5") from None
    if value < 0:
        raise InvalidArgument(f"invalid --cpus {text!r}: must not be negative")
    return int(round(value * 1e9))


ULIMIT_NAMES = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
                "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", "as")


def parse_ulimit(text: str) -> Ulimit:
    """`nofile=1024[:2048]`, like Docker; -1 means unlimited."""
    name, eq, values = text.partition("=")
    if not eq or name not in ULIMIT_NAMES:
        raise InvalidArgument(f"invalid --ulimit {text!r}: expected NAME=SOFT[:HARD] with NAME one of "
                              + ", ".join(ULIMIT_NAMES))
    soft_s, _, hard_s = values.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError:
        raise InvalidArgument(f"invalid --ulimit {text!r}: limits must be integers") from None
    if soft > hard and hard != -1 or soft == -1 and hard != -1:
        raise InvalidArgument(f"invalid --ulimit {text!r}: the soft limit exceeds the hard limit")
    return Ulimit(name, soft, hard)


def parse_tmpfs(text: str) -> Mount:
    dest, _, opts = text.partition(":")
    if not dest.startswith("/"):
        raise InvalidArgument(f"invalid --tmpfs {text!r}: the destination must be an absolute path")
    options = tuple(o for o in opts.split(",") if o) if opts else ()
    return Mount("tmpfs", dest, "tmpfs", options)


def parse_device(text: str) -> Device:
    parts = text.split(":")
    host = parts[0]
    perms = "rwm"
    container = host
    if len(parts) == 2:
        if set(parts[1]) <= set("rwm") and parts[1]:
            perms = parts[1]
        else:
            container = parts[1]
    elif len(parts) == 3:
        container, perms = parts[1], parts[2]
    elif len(parts) > 3:
        raise InvalidArgument(f"invalid --device {text!r}: expected HOST[:CONTAINER][:rwm]")
    if not host.startswith("/") or not container.startswith("/") or not perms or set(perms) - set("rwm"):
        raise InvalidArgument(f"invalid --device {text!r}: expected HOST[:CONTAINER][:rwm] with absolute paths")
    return Device(host, container, perms)


def parse_add_host(text: str) -> tuple[str, str]:
    host, sep, ip = text.partition(":")
    if not sep:
        host, sep, ip = text.partition("=")
    if not sep or not host or not ip:
        raise InvalidArgument(f"invalid --add-host {text!r}: expected HOST:IP")
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    return host, ip


def parse_env_line(text: str, lookup) -> str | None:
    """`K=V` -> itself; `K` -> K=<value from lookup>, or None when it is unset there."""
    if not text or text.startswith("="):
        raise InvalidArgument(f"invalid environment variable {text!r}")
    if "=" in text:
        return text
    value = lookup(text)
    return None if value is None else f"{text}={value}"


def parse_env_file(path: str, content: str, lookup) -> list[str]:
    out = []
    for lineno, line in enumerate(content.splitlines(), 1):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        if " " in stripped.split("=", 1)[0]:
            raise InvalidArgument(f"{path}:{lineno}: variable name contains whitespace: {stripped!r}")
        value = parse_env_line(stripped, lookup)
        if value is not None:
            out.append(value)
    return out


def parse_labels(items: list[str]) -> tuple[tuple[str, str], ...]:
    labels: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid label {item!r}: expected KEY[=VALUE]")
        labels[key] = value
    return tuple(labels.items())


def parse_network(text: str) -> str:
    if text in ("default", "bridge", "none", "host") or text.startswith("container:"):
        if text.startswith("container:") and not text.partition(":")[2]:
            raise InvalidArgument("invalid --network 'container:': name the container")
        return "default" if text == "bridge" else text
    # User-defined networks belong to the network area; keep the name for it to attach.
    if is_name(text, 1):
        return text
    raise InvalidArgument(f"invalid --network {text!r}")


def parse_size(text: str, what: str) -> int:
    """'512m', '1g', '100k', '1024' -> bytes (Docker's RAMInBytes: binary units, optional b)."""
    number = text.lower().strip()   # NUMBER[.FRACTION] [k|m|g|t|p][b], spaces around
    if number.endswith("b"):
        number = number[:-1]
    unit = number[-1:] if number[-1:] in ("k", "m", "g", "t", "p") else ""
    number = number[:len(number) - len(unit)].rstrip()
    whole, dot, fraction = number.partition(".")
    if not whole.isdecimal() or dot and not fraction.isdecimal():
        raise InvalidArgument(f"invalid {what} {text!r}: expected a number with an optional unit b, k, m, g")
    return int(float(number) * (1 << (10 * " kmgtp".index(unit or " "))))


def parse_memory(text: str, what: str = "--memory") -> int:
    value = parse_size(text, what)
    if 0 < value < 6 << 20:
        raise InvalidArgument(f"invalid {what} {text!r}: the minimum memory limit is 6MB")
    return value


def parse_memory_swap(text: str) -> int:
    return -1 if text.strip() == "-1" else parse_size(text, "--memory-swap")


def parse_log_opts(items: list[str]) -> LogConfig:
    """--log-opt max-size=10m --log-opt max-file=3 (json-file's options)."""
    max_size, max_file = LogConfig.max_size, LogConfig.max_file
    for item in items:
        key, _, value = item.partition("=")
        if key == "max-size":
            max_size = -1 if value == "-1" else parse_size(value, "log option max-size")
        elif key == "max-file":
            if not value.isdigit() or int(value) < 1:
                raise InvalidArgument(f"invalid log option max-file {value!r}: expected a number >= 1")
            max_file = int(value)
        else:
            raise InvalidArgument(f"unknown log option {key!r} for the json-file log driver")
    return LogConfig(max_size if max_size != -1 else 0, max_file)
