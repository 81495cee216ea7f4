"""What the builder needs from the rest of krat, as one seam (a Protocol).

The builder decides; a Backend acts: it finds base images, turns a step's upper
directory into a stored layer, runs a RUN step's process in a container over the
overlay of the layers below, and creates the final image. `krat.build.storebackend`
is the real one (image store + container runtime); tests use a directory-only fake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Layer:
    diff_id: str
    dir: Path                        # unpacked: an overlay lowerdir
    size: int = 0
    descriptor: dict | None = None   # the manifest descriptor, for layers of a base image


@dataclass(frozen=True)
class BaseImage:
    id: str
    config_doc: dict
    layers: list[Layer]


@dataclass(frozen=True)
class Mount:
    type: str          # bind | tmpfs
    source: str
    target: str
    readonly: bool = False


@dataclass(frozen=True)
class RunSpec:
    argv: list[str]
    env: list[str]
    cwd: str
    user: str = ""
    network: str = "default"         # default | none | host
    mounts: list[Mount] = field(default_factory=list)


Output = Callable[[bytes], None]


class Backend(Protocol):
    def image(self, ref: str, pull: bool) -> BaseImage:
        """A base image by name or id (NotFound when missing and cannot be pulled)."""

    def layer(self, diff_id: str) -> Layer | None:
        """A layer made by an earlier build, or None when it was removed since."""

    def workdir(self, name: str) -> Path:
        """A new empty private directory on the same filesystem as the layers."""

    def release(self, path: Path) -> None:
        """Remove a directory made by workdir()."""

    def commit(self, upper: Path) -> Layer | None:
        """Store the changes in `upper` as a layer (None when there are none)."""

    def run(self, lowers: list[Path], upper: Path, spec: RunSpec, output: Output) -> int:
        """Run spec.argv in a container whose root is overlay(lowers + upper); its exit code."""

    def cache_dir(self, mount_id: str) -> Path:
        """The persistent directory of a RUN --mount=type=cache."""

    def create_image(self, config_doc: dict, layers: list[Layer], tags: list[str]) -> str:
        """Store the image (config with rootfs and history filled in) and tag it; its id."""
