"""Stages of a Dockerfile and the graph between them (pure).

`plan(instructions, target, build_args)` splits the instructions into stages
(meta ARGs before the first FROM; `FROM image [AS name]`), resolves each stage's
base (`scratch`, an earlier stage, or an image), finds what each stage reads from
others (`COPY --from`, `RUN --mount=...,from=`), and returns only the stages the
target needs, in an order where every stage comes after the ones it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from krat.build.dockerfile import Instruction
from krat.build.expand import Lexer
from krat.errors import InvalidArgument, NotFound


class StageError(InvalidArgument):
    pass


@dataclass
class Stage:
    index: int
    name: str                      # lower-cased `AS name`, or ""
    base: str                      # after meta-arg substitution
    platform: str
    instruction: Instruction       # the FROM
    instructions: list[Instruction] = field(default_factory=list)
    base_stage: int | None = None  # FROM an earlier stage
    reads: set[int] = field(default_factory=set)       # stages read by COPY --from / mounts
    images: set[str] = field(default_factory=set)      # images read by COPY --from / mounts

    @property
    def label(self) -> str:
        return self.name or str(self.index)

    @property
    def title(self) -> str:
        """How progress names the stage: its name, or nothing (as BuildKit prints `[2/7]`)."""
        return self.name


@dataclass
class Plan:
    meta_args: list[Instruction]
    meta_env: dict[str, str]
    stages: list[Stage]            # all stages, by index
    order: list[int]               # the stages to build, dependencies first
    target: int


_ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
           "s390x": "s390x", "riscv64": "riscv64"}


def platform_args(build_args: dict[str, str]) -> dict[str, str]:
    """BuildKit's automatic platform ARGs (this host builds for itself)."""
    import platform

    arch = _ARCHES.get(platform.machine(), platform.machine())
    out = {}
    for side in ("BUILD", "TARGET"):
        out.update({f"{side}PLATFORM": f"linux/{arch}", f"{side}OS": "linux", f"{side}ARCH": arch,
                    f"{side}VARIANT": ""})
    out.update({k: v for k, v in build_args.items() if k in out})
    return out


def meta_arg_values(meta_args: list[Instruction], build_args: dict[str, str], escape: str) -> dict[str, str]:
    """Values of ARGs declared before the first FROM (usable in FROM lines), and the platform ARGs."""
    env: dict[str, str] = platform_args(build_args)
    lexer = Lexer(escape)
    for inst in meta_args:
        for word in inst.args:
            name, eq, default = word.partition("=")
            if name in build_args:
                env[name] = build_args[name]
            elif eq:
                env[name] = lexer.word(default, env)
    return env


def _from_parts(inst: Instruction, filename: str) -> tuple[str, str]:
    args = inst.args
    if len(args) == 3 and args[1].lower() == "as":
        return args[0], args[2]
    if len(args) == 1:
        return args[0], ""
    if not args:
        raise StageError(f"{filename}:{inst.line}: FROM requires an image (FROM image [AS name])")
    raise StageError(f"{filename}:{inst.line}: FROM requires either one or three arguments (FROM image [AS name])")


def _flag(inst: Instruction, name: str) -> str | None:
    prefix = f"--{name}="
    for flag in inst.flags:
        if flag.lower().startswith(prefix):
            return flag[len(prefix):]
    return None


def split_stages(instructions: list[Instruction], filename: str, meta_env: dict[str, str],
                 escape: str) -> tuple[list[Instruction], list[Stage]]:
    meta: list[Instruction] = []
    stages: list[Stage] = []
    names: dict[str, int] = {}
    lexer = Lexer(escape)
    for inst in instructions:
        if inst.keyword == "FROM":
            raw_base, name = _from_parts(inst, filename)
            base = lexer.word(raw_base, meta_env)
            if not base:
                raise StageError(f"{filename}:{inst.line}: base name ({raw_base}) should not be blank")
            name = name.lower()
            if name and name in names:
                raise StageError(f"{filename}:{inst.line}: duplicate stage name {name!r}")
            platform = lexer.word(_flag(inst, "platform") or "", meta_env)
            stage = Stage(len(stages), name, base, platform, inst)
            if base.lower() in names:
                stage.base_stage = names[base.lower()]
            if name:
                names[name] = stage.index
            stages.append(stage)
        elif not stages:
            if inst.keyword != "ARG":
                raise StageError(f"{filename}:{inst.line}: {inst.keyword} before the first FROM: "
                                 "a Dockerfile must start with FROM (only ARG may come before it)")
            meta.append(inst)
        else:
            stages[-1].instructions.append(inst)
    if not stages:
        line = instructions[-1].line if instructions else 1
        raise StageError(f"{filename}:{line}: no FROM instruction: a Dockerfile needs at least one build stage")
    return meta, stages


def _resolve_ref(ref: str, stage: Stage, stages: list[Stage]) -> int | None:
    """A --from value: a stage name or index (earlier stages only), else None (an image)."""
    low = ref.lower()
    for other in stages[: stage.index]:
        if other.name == low:
            return other.index
    if ref.isdigit():
        return int(ref)
    return None


def _link(stage: Stage, stages: list[Stage], filename: str) -> None:
    for inst in stage.instructions:
        refs = []
        if inst.keyword == "COPY" and (ref := _flag(inst, "from")) is not None:
            refs.append(ref)
        if inst.keyword == "RUN":
            refs += [m["from"] for m in run_mounts(inst, filename) if "from" in m]
        for ref in refs:
            if "$" in ref:
                raise StageError(f"{filename}:{inst.line}: variable expansion is not supported for --from")
            index = _resolve_ref(ref, stage, stages)
            if index is None:
                if any(s.name == ref.lower() for s in stages):
                    raise StageError(f"{filename}:{inst.line}: stage {ref!r} is used before it is defined")
                stage.images.add(ref)
            elif index >= stage.index:
                raise StageError(f"{filename}:{inst.line}: invalid --from={ref}: a stage can only read earlier stages")
            else:
                stage.reads.add(index)


def run_mounts(inst: Instruction, filename: str) -> list[dict[str, str]]:
    """The --mount flags of a RUN as dicts (`type` defaults to bind, as in BuildKit)."""
    mounts = []
    for flag in inst.flags:
        if not flag.lower().startswith("--mount="):
            continue
        spec: dict[str, str] = {"type": "bind"}
        for field_ in flag[len("--mount="):].split(","):
            key, eq, value = field_.partition("=")
            key = key.strip().lower()
            if key in ("dst", "destination"):
                key = "target"
            if key in ("src",):
                key = "source"
            if not eq and key in ("ro", "readonly", "rw", "readwrite"):
                value = "true"
            spec[key] = value
        if spec["type"] == "secret" and "target" not in spec:
            spec["target"] = f"/run/secrets/{spec.get('id', '')}"
        if spec["type"] == "ssh" and "target" not in spec:
            spec["target"] = "/run/buildkit/ssh_agent.0"
        if "target" not in spec:
            raise StageError(f"{filename}:{inst.line}: --mount needs a target= (in {flag})")
        mounts.append(spec)
    return mounts


def plan(instructions: list[Instruction], target: str | None, build_args: dict[str, str],
         filename: str = "Dockerfile", escape: str = "\\") -> Plan:
    first_from = next((i for i, inst in enumerate(instructions) if inst.keyword == "FROM"), len(instructions))
    meta_candidates = [i for i in instructions[:first_from] if i.keyword == "ARG"]
    meta_env = meta_arg_values(meta_candidates, build_args, escape)
    meta, stages = split_stages(instructions, filename, meta_env, escape)
    for stage in stages:
        _link(stage, stages, filename)
    if target:
        matches = [s for s in stages if s.name == target.lower()]
        if not matches:
            raise NotFound(f"target stage {target!r} could not be found in {filename}")
        goal = matches[0].index
    else:
        goal = stages[-1].index
    return Plan(meta, meta_env, stages, _order(stages, goal), goal)


def _order(stages: list[Stage], goal: int) -> list[int]:
    needed: set[int] = set()
    todo = [goal]
    while todo:
        index = todo.pop()
        if index in needed:
            continue
        needed.add(index)
        stage = stages[index]
        if stage.base_stage is not None:
            todo.append(stage.base_stage)
        todo.extend(stage.reads)
    return sorted(needed)  # dependencies are always earlier stages
