"""Security profiles the engine writes into config.json: the default seccomp profile.

seccomp.json is krat's own readable profile (an allow-list in the shape of Docker's).
Its entries may carry `requires_capability` / `unless_capability` (granted or not),
`architectures` (uname -m values) and a `comment`; default_seccomp() resolves them for
one container into plain OCI `linux.seccomp`, which any OCI runtime (krat's, runc) takes.
"""

from __future__ import annotations

import os

from krat.oci import jsoncodec  # not `json`: json.decoder loads re (~1 ms)

_PROFILE = os.path.join(os.path.dirname(__file__), "seccomp.json")
_OCI_KEYS = ("names", "action", "errnoRet", "args")


def _normalise(cap: str) -> str:
    cap = cap.upper()
    return cap if cap.startswith("CAP_") else "CAP_" + cap


def load_profile(path: str = _PROFILE) -> dict:
    with open(path) as f:
        return jsoncodec.loads(f.read())


def default_seccomp(capabilities: list[str] | tuple[str, ...] | set[str], machine: str | None = None,
                    profile: dict | None = None) -> dict:
    """linux.seccomp for a container holding `capabilities` (names, with or without CAP_)."""
    profile = profile or load_profile()
    granted = {_normalise(c) for c in capabilities}
    machine = machine or os.uname().machine
    rules = []
    for entry in profile["syscalls"]:
        needs = entry.get("requires_capability")
        if needs and needs not in granted:
            continue
        unless = entry.get("unless_capability")
        if unless and unless in granted:
            continue
        if "architectures" in entry and machine not in entry["architectures"]:
            continue
        rules.append({k: entry[k] for k in _OCI_KEYS if k in entry})
    out = {"defaultAction": profile["defaultAction"], "defaultErrnoRet": profile["defaultErrnoRet"]}
    arches = profile.get("architectures_by_machine", {}).get(machine)
    if arches:
        out["architectures"] = arches
    out["syscalls"] = rules
    return out
