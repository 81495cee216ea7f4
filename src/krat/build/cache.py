"""Build cache keys, and why a step missed (pure).

A step's key is the hash of everything that decides its result: the parent key
(the previous step's, or the base image's id), the instruction after variable
substitution, the build args it used (a changed ARG invalidates from its first use,
not from its declaration, as in Docker), and the content digests of its COPY/ADD
sources. Mtimes are not inputs, so a touched but unchanged file still hits.

On a miss, `explain` compares the step with what was recorded on the same parent
and names the change: the instruction, a build arg, or which files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from krat.build.context import manifest_digest


@dataclass(frozen=True)
class StepInputs:
    parent: str
    instruction: str
    args: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        doc = {"parent": self.parent, "instruction": self.instruction, "args": dict(sorted(self.args.items())),
               "sources": manifest_digest(self.sources) if self.sources else ""}
        raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return "sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Verdict:
    hit: bool
    reason: str


MAX_FILES_NAMED = 3


def explain(step: StepInputs, recorded: list[StepInputs], parent_rebuilt: bool, first: bool = False) -> str:
    """Why `step` is not in the cache, given the steps recorded on the same parent."""
    if parent_rebuilt:
        return "an earlier step re-ran"
    if not recorded:
        return "base image changed or never built on it" if first else "no earlier build of this step"
    same = [r for r in recorded if r.instruction == step.instruction]
    if not same:
        return f"instruction changed (was: {_short(recorded[0].instruction)})"
    best = same[0]
    reasons = []
    changed_args = sorted(k for k in set(step.args) | set(best.args) if step.args.get(k) != best.args.get(k))
    for name in changed_args:
        reasons.append(f"build arg {name} changed ({_arg(best.args.get(name))} -> {_arg(step.args.get(name))})")
    files = _file_changes(best.sources, step.sources)
    if files:
        reasons.append(files)
    return "; ".join(reasons) or "cache entry was pruned"


def _file_changes(old: dict[str, str], new: dict[str, str]) -> str:
    changed = sorted(p for p in set(old) & set(new) if old[p] != new[p])
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    parts: list[str] = []
    stages = [p for p in changed if p.startswith(("--from=", "mount:--from="))]
    for p in stages:
        parts.append(f"source {p.split('--from=', 1)[1]} changed")
    changed = [p for p in changed if p not in stages]
    for verb, paths in (("changed", changed), ("added", added), ("removed", removed)):
        if not paths:
            continue
        named = ", ".join(paths[:MAX_FILES_NAMED])
        more = f" and {len(paths) - MAX_FILES_NAMED} more" if len(paths) > MAX_FILES_NAMED else ""
        noun = "file" if len(paths) == 1 else "files"
        parts.append(f"{noun} {named}{more} {verb}")
    return "; ".join(parts)


def _arg(value: str | None) -> str:
    return "unset" if value is None else repr(value)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
