"""Container state on disk (one directory per id under --root) and the status machine."""

from __future__ import annotations

import os

from krat.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from krat.oci import jsoncodec as json
from krat.oci.records import asdict, field, record
from krat.oci.state import ContainerStatus
from krat.runtime import DEFAULT_ROOT
from krat.runtime.files import read_file

S = ContainerStatus

TRANSITIONS: dict[ContainerStatus, set[ContainerStatus]] = {
    S.CREATING: {S.CREATED, S.STOPPED},
    S.CREATED: {S.RUNNING, S.STOPPED},
    S.RUNNING: {S.PAUSED, S.STOPPED},
    S.PAUSED: {S.RUNNING, S.STOPPED},
    S.STOPPED: set(),
}
# Operations that do not change the status but need the container in one of these.
NEEDS = {
    "kill": {S.CREATED, S.RUNNING, S.PAUSED},
    "exec": {S.CREATED, S.RUNNING},
    "delete": {S.STOPPED, S.CREATED},  # like runc: a created container has run nothing yet
}

SECCOMP_BPF = "seccomp.bpf"  # the compiled linux.seccomp, in the state directory: exec loads it as is

_ID_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ID_REST = _ID_FIRST | frozenset("_.+-")


def check_transition(container_id: str, current: ContainerStatus, target: ContainerStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise Conflict(f"container {container_id} is {current.value}: it cannot become {target.value}")


def check_operation(container_id: str, operation: str, current: ContainerStatus) -> None:
    allowed = NEEDS[operation]
    if current not in allowed:
        want = " or ".join(sorted(s.value for s in allowed))
        raise Conflict(f"cannot {operation} container {container_id}: it is {current.value} (needs {want})")


def validate_id(container_id: str) -> None:
    if not (0 < len(container_id) <= 1024 and container_id[0] in _ID_FIRST and _ID_REST.issuperset(container_id)) \
            or container_id in (".", ".."):
        raise InvalidArgument(f"invalid container id {container_id!r}: use letters, digits, _ . + -")


@record
class Record:
    """What the runtime remembers of one container (state.json)."""

    id: str
    bundle: str
    rootfs: str
    status: str = "creating"   # then "created"; later statuses come from the kernel (container.status_of)
    pid: int = 0
    pid_start: str = ""
    created: str = ""
    cgroup: str = ""
    cgroup_root: str = ""  # the hierarchy root at create ("" = /sys/fs/cgroup, as before this field)
    annotations: dict = field(default_factory=dict)
    hooks: dict = field(default_factory=dict)  # poststart/poststop, as in config.json, run by start/delete


class Store:
    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        self.root = root

    def dir(self, container_id: str) -> str:
        validate_id(container_id)
        return os.path.join(self.root, container_id)

    def reserve(self, record: Record) -> str:
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        d = self.dir(record.id)
        try:
            os.mkdir(d, 0o700)
        except FileExistsError as err:
            raise AlreadyExists(f"container {record.id} already exists") from err
        self.save(record)
        return d

    def save(self, record: Record) -> None:
        self.stage(record)
        self.publish(record.id)

    def stage(self, record: Record) -> None:
        """Write the record where readers do not look yet (publish makes it the state)."""
        write_file(os.path.join(self.dir(record.id), "state.json.tmp"), json.dumps(asdict(record)).encode())

    def publish(self, container_id: str) -> None:
        d = self.dir(container_id)
        os.rename(os.path.join(d, "state.json.tmp"), os.path.join(d, "state.json"))

    def load(self, container_id: str) -> Record:
        try:
            return Record(**json.loads(read_file(os.path.join(self.dir(container_id), "state.json"))))
        except FileNotFoundError as err:
            raise NotFound(f"container {container_id} does not exist") from err
        except (ValueError, TypeError) as err:
            raise NotFound(f"container {container_id}: unreadable state ({err})") from err

    def remove(self, container_id: str) -> None:
        from krat.runtime.trees import remove_tree  # not shutil: it loads bz2 and lzma

        remove_tree(self.dir(container_id))

    def ids(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.root)
                          if os.path.exists(os.path.join(self.root, n, "state.json")))
        except FileNotFoundError:
            return []


def write_file(path: str, data: bytes) -> None:
    """Create or replace path with data (os.open: a text-mode open() adds four syscalls)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def write_pid_file(path: str, pid: int) -> None:
    """--pid-file: written whole under another name, then renamed into place."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def proc_start(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat), or None if it is gone or a zombie."""
    try:
        text = read_file(f"/proc/{pid}/stat").decode()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def alive(record: Record) -> bool:
    return record.pid > 0 and proc_start(record.pid) == record.pid_start
