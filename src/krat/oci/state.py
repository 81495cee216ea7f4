"""The OCI state document and the container statuses: light, for the lifecycle operations.

(The spec types in oci/runtime.py cost more to import; `state`, `kill` and `delete` do not need them.)
"""

from __future__ import annotations

from krat.oci._json import _fail, _obj, _str
from krat.oci.closedstr import ClosedStr
from krat.oci.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION = "1.0.2"


class ContainerStatus(ClosedStr, values=("creating", "created", "running", "paused", "stopped")):
    """The spec's statuses plus runc's `paused` (a ClosedStr, not an Enum: see there)."""

    __slots__ = ()
    CREATING: ContainerStatus
    CREATED: ContainerStatus
    RUNNING: ContainerStatus
    PAUSED: ContainerStatus
    STOPPED: ContainerStatus


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
