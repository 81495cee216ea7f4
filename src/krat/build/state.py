"""The running state of one stage while it is built, and the build request."""

from __future__ import annotations

from dataclasses import dataclass, field

from krat.build.backend import Layer
from krat.build.context import Context
from krat.build.dockerfile import Instruction
from krat.build.expand import Lexer
from krat.build.imageconfig import PROXY_ARGS, ImageState
from krat.build.stages import Stage
from krat.errors import InvalidArgument


class BuildError(InvalidArgument):
    """A build step failed; the message starts with file:line."""


@dataclass
class BuildRequest:
    dockerfile: str
    context: Context
    filename: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"
    remember_digests: bool = False   # keep context file digests across builds (not for temp contexts)
    secrets: dict[str, bytes] = field(default_factory=dict)   # --secret id -> value (never cached)
    # podman build -v: host paths bound into every RUN step, and env only RUN steps see;
    # neither lands in the image nor in cache keys (like --secret)
    volumes: list[tuple[str, str, bool]] = field(default_factory=list)   # (host, target, readonly)
    run_env: dict[str, str] = field(default_factory=dict)


@dataclass
class StageRun:
    stage: Stage
    state: ImageState
    layers: list[Layer]
    key: str
    escape: str
    args: dict[str, str | None] = field(default_factory=dict)   # declared ARGs (None: no value)
    scope: dict[str, str] = field(default_factory=dict)         # what $VAR expands to
    rebuilt: bool = False                                       # an earlier step re-ran
    cmd_set: bool = False                                       # CMD given in this stage
    steps_done: int = 0
    onbuild: list[str] = field(default_factory=list)           # the base image's ONBUILD triggers

    def lexer(self) -> Lexer:
        return Lexer(self.escape)

    def word(self, text: str, used: set[str] | None = None) -> str:
        result = self.lexer().process(text, self.scope)
        if used is not None:
            used |= result.matched
        return result.result

    def words(self, text: str, used: set[str] | None = None) -> list[str]:
        result = self.lexer().process(text, self.scope)
        if used is not None:
            used |= result.matched
        return result.words

    def args_used(self, names: set[str]) -> dict[str, str]:
        """The build args among `names` (ENV of the same name is not an arg)."""
        env = self.state.env()
        return {n: v for n in sorted(names) if (v := self.args.get(n)) is not None and n not in env}

    def run_args(self) -> dict[str, str]:
        """ARGs with values that a RUN sees in its environment (and so depends on)."""
        env = self.state.env()
        return {n: v for n, v in self.args.items() if v is not None and n not in env and n not in PROXY_ARGS}

    def where(self, inst: Instruction, filename: str) -> str:
        return f"{filename}:{inst.line}"
