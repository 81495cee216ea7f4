"""The OCI state document and the container statuses: light, for the lifecycle operations.

(The spec types in oci/runtime.py cost more to import; `state`, `kill` and `delete` do not need them.)
"""

from __future__ import annotations

from krat.oci._json import _fail, _obj, _str
from krat.oci.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION = "1.0.2"


class ContainerStatus(str):
    """The spec's statuses plus runc's `paused`: a closed set of str constants.

    It behaves as the `(str, enum.Enum)` it replaces does in what krat uses (members
    compared with `is`, `.value`, `.name`, `ContainerStatus("running")` returning the
    member or raising ValueError, str() and repr()) without importing enum, which with
    functools and collections is a third of the runtime child's import time.
    """

    __slots__ = ()
    _members: dict[str, ContainerStatus] = {}
    CREATING: ContainerStatus
    CREATED: ContainerStatus
    RUNNING: ContainerStatus
    PAUSED: ContainerStatus
    STOPPED: ContainerStatus

    def __new__(cls, value: str) -> ContainerStatus:
        try:
            return cls._members[value]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid ContainerStatus") from None

    @property
    def value(self) -> str:
        return str.__str__(self)

    @property
    def name(self) -> str:
        return self.value.upper()

    def __str__(self) -> str:
        return f"ContainerStatus.{self.name}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return f"<ContainerStatus.{self.name}: {self.value!r}>"

    def __reduce__(self) -> tuple:
        return ContainerStatus, (self.value,)

    def __copy__(self) -> ContainerStatus:
        return self

    def __deepcopy__(self, memo: dict) -> ContainerStatus:
        return self


for _value in ("creating", "created", "running", "paused", "stopped"):
    ContainerStatus._members[_value] = _member = str.__new__(ContainerStatus, _value)
    setattr(ContainerStatus, _value.upper(), _member)
del _value, _member


@record(frozen=True)
class State:
    """The runtime's state document (`state ID`), with runc's extra keys."""

    id: str
    status: ContainerStatus
    pid: int
    bundle: str
    oci_version: str = OCI_VERSION
    rootfs: str = ""
    created: str = ""
    annotations: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict:
        out: dict = {"ociVersion": self.oci_version, "id": self.id, "status": self.status.value,
                     "pid": self.pid if self.status is not ContainerStatus.STOPPED else 0,
                     "bundle": self.bundle}
        if self.rootfs:
            out["rootfs"] = self.rootfs
        if self.created:
            out["created"] = self.created
        out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def from_json(cls, d: Any) -> "State":
        d = _obj(d, "state")
        try:
            status = ContainerStatus(d.get("status"))
        except ValueError as err:
            raise _fail("state.status", f"unknown status {d.get('status')!r}") from err
        return cls(_str(d.get("id"), "state.id"), status, int(d.get("pid") or 0), _str(d.get("bundle"), "state.bundle"),
                   _str(d.get("ociVersion"), "state.ociVersion", OCI_VERSION), _str(d.get("rootfs"), "state.rootfs"),
                   _str(d.get("created"), "state.created"),
                   tuple(_obj(d.get("annotations"), "state.annotations").items()))
