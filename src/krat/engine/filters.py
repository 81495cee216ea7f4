"""`ps --filter`: id, name, label, exited, status, ancestor, before, since (Docker's keys)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from krat.engine.state import STATUSES
from krat.errors import InvalidArgument

if TYPE_CHECKING:
    from krat.engine.containers import Container

KEYS = ("id", "name", "label", "exited", "status", "ancestor", "before", "since")


@dataclass(frozen=True)
class ContainerFilter:
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, items: list[str]) -> "ContainerFilter":
        terms: dict[str, list[str]] = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or key not in KEYS:
                raise InvalidArgument(f"invalid filter {item!r}: expected KEY=VALUE with KEY one of {', '.join(KEYS)}")
            if key == "status" and value not in [s.value for s in STATUSES]:
                raise InvalidArgument(f"invalid filter 'status={value}': expected one of "
                                      + ", ".join(s.value for s in STATUSES))
            if key == "exited" and not value.lstrip("-").isdigit():
                raise InvalidArgument(f"invalid filter 'exited={value}': expected an exit code")
            terms.setdefault(key, []).append(value)
        return cls({k: tuple(v) for k, v in terms.items()})

    def implies_all(self) -> bool:
        return "exited" in self.terms or any(s not in ("running", "paused", "restarting")
                                             for s in self.terms.get("status", ()))

    def matches(self, c: "Container", everyone: list["Container"]) -> bool:
        """Values of one key are alternatives (OR); different keys must all match (AND)."""
        for key, values in self.terms.items():
            if not any(self._one(key, v, c, everyone) for v in values):
                return False
        return True

    def _one(self, key: str, value: str, c: "Container", everyone: list["Container"]) -> bool:
        if key == "id":
            return c.id.startswith(value)
        if key == "name":
            import re

            return re.search(value, c.name) is not None
        if key == "label":
            k, sep, v = value.partition("=")
            labels = dict(c.spec.labels)
            return k in labels and (not sep or labels[k] == v)
        if key == "exited":
            return c.row.status == "exited" and c.row.finished_at[:4] != "0001" and c.row.exit_code == int(value)
        if key == "status":
            return c.row.status == value
        if key == "ancestor":
            return c.spec.image == value or c.row.image_id.endswith(value) or \
                c.spec.image.split(":")[0] == value.split(":")[0] and ":" not in value
        if key in ("before", "since"):
            other = next((o for o in everyone if o.id.startswith(value) or o.name == value), None)
            if other is None:
                raise InvalidArgument(f"no such container: {value}")
            return c.row.created < other.row.created if key == "before" else c.row.created > other.row.created
        return False
