"""The OCI runtime spec (config.json) and the state document, as frozen records (krat.oci.records).

Field names are the spec's, snake_cased; `from_json` validates and names the field in
every error (`process.args[0]: expected a string`), `to_json` writes the spec's
camelCase keys and leaves out what is unset. Covers what krat's runtime implements;
unknown keys are ignored, as the spec asks of runtimes. The parts live in
oci/process.py (process, root, mounts) and oci/linux.py (the linux section).
"""

from __future__ import annotations

from krat.errors import InvalidArgument
from krat.oci import jsoncodec as json
from krat.oci._json import _fail, _list, _obj, _str
from krat.oci.linux import (Device, DeviceRule, IdMapping, Linux, Namespace, Resources, Seccomp, SeccompArg,
                            SeccompRule)
from krat.oci.process import Capabilities, Hook, Mount, Process, Rlimit, Root, User, hooks_from_json
from krat.oci.records import field, record
from krat.oci.state import OCI_VERSION, ContainerStatus, State

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["OCI_VERSION", "Capabilities", "ContainerStatus", "Device", "DeviceRule", "Hook", "IdMapping", "Linux",
           "Mount", "Namespace", "Process", "Resources", "Rlimit", "Root", "Seccomp", "SeccompArg",
           "SeccompRule", "Spec", "State", "User", "load_spec", "parse_spec"]


@record(frozen=True)
class Spec:
    """A whole config.json."""

    process: Process
    root: Root
    oci_version: str = OCI_VERSION
    hostname: str = ""
    mounts: tuple[Mount, ...] = ()
    linux: Linux = field(default_factory=Linux)
    annotations: tuple[tuple[str, str], ...] = ()
    hooks: tuple[tuple[str, tuple[Hook, ...]], ...] = ()

    def hooks_of(self, kind: str) -> tuple[Hook, ...]:
        return next((hooks for k, hooks in self.hooks if k == kind), ())

    @classmethod
    def from_json(cls, d: Any) -> "Spec":
        d = _obj(d, "config")
        if "process" not in d:
            raise _fail("process", "is required")
        if "root" not in d:
            raise _fail("root", "is required")
        annotations = _obj(d.get("annotations"), "annotations")
        return cls(
            process=Process.from_json(d["process"]),
            root=Root.from_json(d["root"]),
            oci_version=_str(d.get("ociVersion"), "ociVersion", OCI_VERSION),
            hostname=_str(d.get("hostname"), "hostname"),
            mounts=tuple(Mount.from_json(m, f"mounts[{i}]") for i, m in enumerate(_list(d.get("mounts"), "mounts"))),
            linux=Linux.from_json(d.get("linux")),
            annotations=tuple((k, _str(v, f"annotations.{k}")) for k, v in annotations.items()),
            hooks=hooks_from_json(d.get("hooks")))

    def to_json(self) -> dict:
        out: dict = {"ociVersion": self.oci_version, "process": self.process.to_json(), "root": self.root.to_json()}
        if self.hostname:
            out["hostname"] = self.hostname
        out["mounts"] = [m.to_json() for m in self.mounts]
        out["linux"] = self.linux.to_json()
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.hooks:
            out["hooks"] = {kind: [h.to_json() for h in hooks] for kind, hooks in self.hooks}
        return out


def load_spec(path: str) -> Spec:
    """Read and validate a config.json; errors name the file and the field."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError as err:
        raise InvalidArgument(f"{path}: no such file") from err
    except OSError as err:
        raise InvalidArgument(f"{path}: {err}") from err
    return parse_spec(raw, path)


def parse_spec(raw: bytes, path: str) -> Spec:
    """Validate a config.json's bytes (read from `path`, which errors name)."""
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise InvalidArgument(f"{path}: {err}") from err
    try:
        return Spec.from_json(data)
    except InvalidArgument as err:
        raise InvalidArgument(f"{path}: {err.message}") from err
