"""The builder: Dockerfile + context -> image, step by step, through the layer cache.

For each stage the target needs (krat.build.stages; independent stages at the same
time, krat.build.schedule), each instruction is expanded
where Docker expands it, turned into a cache key (krat.build.cache) and either
taken from the cache or executed: metadata instructions change the config only;
COPY/ADD/WORKDIR write into a fresh upper directory; RUN runs in a container over
the overlay of the layers below with a fresh upper directory. A non-empty upper
directory becomes the step's layer. Only a complete build creates the image and
its tags; a failed one leaves its working directories, mounts and containers
removed, and no image.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field, replace

from krat.build import filesteps, metadata
from krat.build.backend import Backend, Layer
from krat.build.cache import StepInputs, explain
from krat.build.dockerfile import Instruction, parse_file
from krat.build.imageconfig import PROXY_ARGS, config_document, from_base
from krat.build.progress import Progress, Step
from krat.build.runexec import RunSteps, short
from krat.build.schedule import run_graph
from krat.build.stages import Stage, plan
from krat.build.state import BuildError, BuildRequest, StageRun
from krat.db import build_cache
from krat.errors import InvalidArgument, KratError, NotFound



@dataclass
class BuildResult:
    image_id: str
    steps: list[Step] = field(default_factory=list)


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e9):09d}Z"


class Builder(RunSteps):
    def __init__(self, backend: Backend, db, progress: Progress, jobs: int = 0) -> None:
        self.backend = backend
        self.db = db
        self.jobs = jobs or min(4, os.cpu_count() or 2)
        # Stages may run in threads: the database connection, the backend's image lookups
        # and the progress output are shared, so they are used under this lock.
        self.lock = threading.RLock()
        self.progress = _Locked(progress, self.lock)
        self.cancelled = threading.Event()

    def build(self, req: BuildRequest) -> BuildResult:
        self.req = req
        parsed = parse_file(req.dockerfile, req.filename)
        self.escape = parsed.escape
        self.plan = plan(parsed.instructions, req.target, req.build_args, req.filename, parsed.escape)
        self.results: dict[int, StageRun] = {}
        self.steps: list[Step] = []
        self.total = sum(len(self.plan.stages[i].instructions) + 1 for i in self.plan.order)
        self.used_args: set[str] = set()
        if req.remember_digests:
            req.context.known = build_cache.file_digests(self.db, str(req.context.root) + "/")
        try:
            deps = {i: self._deps(self.plan.stages[i]) for i in self.plan.order}
            run_graph(self.plan.order, deps, self._stage_at, self.jobs, self.cancelled)
        finally:
            if req.remember_digests:
                build_cache.save_file_digests(self.db, req.context.learned)
        final = self.results[self.plan.target]
        self._warn_unused_args()
        image_id = self._create_image(final)
        return BuildResult(image_id, self.steps)

    # -- stages -------------------------------------------------------------------------

    def _deps(self, stage: Stage) -> set[int]:
        base = {stage.base_stage} if stage.base_stage is not None else set()
        return (base | stage.reads) & set(self.plan.order)

    def _stage_at(self, index: int) -> StageRun:
        run = self._stage(self.plan.stages[index])
        with self.lock:
            self.results[index] = run
        return run

    def _stage(self, stage: Stage) -> StageRun:
        step = self._begin(stage, stage.instruction, f"FROM {stage.base}")
        try:
            run = self._from(stage)
        except KratError as err:
            raise self._located(stage.instruction, err) from None
        self._end(step, cached=True, reason=None)
        triggers = self._onbuild_triggers(run)
        with self.lock:
            self.total += len(triggers)
        for trigger in triggers:
            self._instruction(run, trigger)
        for inst in stage.instructions:
            self._instruction(run, inst)
        return run

    def _from(self, stage: Stage) -> StageRun:
        if stage.base_stage is not None:
            base = self.results[stage.base_stage]
            run = StageRun(stage, base.state.clone(), list(base.layers), base.key, self.escape)
        elif stage.base.lower() == "scratch":
            run = StageRun(stage, from_base(None), [], "scratch", self.escape)
        else:
            with self.lock:
                image = self.backend.image(stage.base, self.req.pull)
            run = StageRun(stage, from_base(image.config_doc), list(image.layers), image.id, self.escape)
            run.onbuild = list((image.config_doc.get("config") or {}).get("OnBuild") or [])
        run.scope = run.state.env()
        return run

    def _onbuild_triggers(self, run: StageRun) -> list[Instruction]:
        triggers = run.onbuild
        if not triggers:
            return []
        parsed = parse_file("\n".join(triggers) + "\n", f"{run.stage.base} ONBUILD")
        line = run.stage.instruction.line
        for inst in parsed.instructions:
            if inst.keyword in ("ONBUILD", "FROM", "MAINTAINER"):
                raise BuildError(f"{self.req.filename}:{line}: {inst.keyword} isn't allowed as an ONBUILD trigger")
        # Triggers run as part of the FROM line: errors point there.
        return [replace(inst, line=line, end_line=line) for inst in parsed.instructions]

    # -- one instruction ----------------------------------------------------------------

    def _instruction(self, run: StageRun, inst: Instruction) -> None:
        if self.cancelled.is_set():
            raise BuildError(f"{self.req.filename}:{inst.line}: not run: another stage failed")
        step = self._begin(run.stage, inst, inst.original)
        if inst.keyword in ("RUN", "CMD", "ENTRYPOINT") and not inst.json and inst.args \
                and inst.args[0].lstrip().startswith("["):
            self.progress.warn(f"{self.req.filename}:{inst.line}: {inst.keyword} is not a valid JSON array, so it "
                               f"runs as a shell command (as in Docker): {short(inst.args[0])}")
        try:
            self._dispatch(run, inst, step)
        except BuildError:
            raise
        except KratError as err:
            raise self._located(inst, err) from None

    def _located(self, inst: Instruction, err: KratError) -> KratError:
        where = f"{self.req.filename}:{inst.line}"
        if err.message.startswith(where) or err.message.startswith(self.req.filename + ":"):
            return err
        located = type(err)(f"{where}: {err.message}")
        return located

    def _dispatch(self, run: StageRun, inst: Instruction, step: Step) -> None:
        where = f"{self.req.filename}:{inst.line}"
        keyword = inst.keyword
        used: set[str] = set()
        if keyword == "ARG":
            created_by = metadata.arg(run, inst, used, self.req.build_args, self.plan.meta_env)
            self.used_args |= {w.partition("=")[0] for w in inst.args}
            # A changed value invalidates where it is used, not here (Docker's rule): the
            # key has the declaration only; steps that use the value carry it in theirs.
            declared = "ARG " + " ".join(w.partition("=")[0] for w in inst.args)
            self._cached_step(run, step, StepInputs(run.key, declared), created_by)
        elif keyword in metadata.HANDLERS:
            # The key is the text as written plus the build args it used: everything else it
            # reads (ENV, the base image) is already in the parent key; so a changed arg is
            # reported as that, not as "instruction changed".
            created_by = metadata.HANDLERS[keyword](run, inst, used)
            self._cached_step(run, step, StepInputs(run.key, _canonical(inst), run.args_used(used)), created_by)
        elif keyword == "WORKDIR":
            self._file_step(run, step, filesteps.workdir(run, inst))
        elif keyword in ("COPY", "ADD"):
            source = self._from_source(run, inst, where) if keyword == "COPY" else None
            change = filesteps.copy(run, inst, where, self.req.context, source, is_add=keyword == "ADD")
            self._file_step(run, step, change)
        elif keyword == "RUN":
            self._run_step(run, inst, step, where)
        else:
            raise metadata.unsupported(inst, where)

    def _from_source(self, run: StageRun, inst: Instruction, where: str) -> filesteps.FromSource | None:
        ref = next((f.split("=", 1)[1] for f in inst.flags if f.lower().startswith("--from=")), None)
        if ref is None:
            return None
        low = ref.lower()
        for index in run.stage.reads:
            other = self.plan.stages[index]
            if other.name == low or str(index) == ref:
                built = self.results[index]
                return filesteps.FromSource(other.label, built.key, [layer.dir for layer in built.layers])
        try:
            with self.lock:
                image = self.backend.image(ref, self.req.pull)
        except NotFound:
            raise BuildError(f"{where}: COPY --from={ref}: no build stage or image named {ref!r}") from None
        return filesteps.FromSource(ref, image.id, [layer.dir for layer in image.layers])

    # -- the cache ------------------------------------------------------------------------

    def _lookup(self, run: StageRun, inputs: StepInputs) -> tuple[build_cache.CacheRecord | None, str | None]:
        """(record, None) on a hit; (None, why) on a miss."""
        if self.req.no_cache:
            return None, "--no-cache"
        with self.lock:
            record = build_cache.get(self.db, inputs.key)
        if record is not None:
            diff_id = record.result.get("diff_id")
            if diff_id and self.backend.layer(diff_id) is None:
                return None, "its cached layer was removed"
            return record, None
        with self.lock:
            siblings = [StepInputs(r.parent, r.instruction, r.args, r.sources)
                        for r in build_cache.children(self.db, inputs.parent)]
        first = run.steps_done == 0
        return None, explain(inputs, siblings, run.rebuilt, first=first)

    def _record(self, inputs: StepInputs, result: dict, created: float) -> None:
        rec = build_cache.CacheRecord(inputs.key, inputs.parent, inputs.instruction, inputs.args,
                                      inputs.sources, result, created, created)
        with self.lock:
            build_cache.put(self.db, rec)

    def _advance(self, run: StageRun, inputs: StepInputs, created_by: str, created: float,
                 layer: Layer | None) -> None:
        run.key = inputs.key
        run.steps_done += 1
        if layer is not None:
            run.layers.append(layer)
        run.state.add_history(created_by, layer is None, rfc3339(created))

    def _cached_step(self, run: StageRun, step: Step, inputs: StepInputs, created_by: str) -> None:
        record, reason = self._lookup(run, inputs)
        if record is None:
            created = time.time()
            self._record(inputs, {}, created)
            run.rebuilt = run.rebuilt or reason != "--no-cache"
        else:
            created = record.created_at
            with self.lock:
                build_cache.touch(self.db, inputs.key)
        self._advance(run, inputs, created_by, created, None)
        self._end(step, cached=record is not None, reason=reason)

    def _file_step(self, run: StageRun, step: Step, change: filesteps.Change) -> None:
        inputs = StepInputs(run.key, change.canonical, run.args_used(change.used), change.sources)
        if change.apply is None:
            self._cached_step(run, step, inputs, change.created_by)
            return
        self._layer_step(run, step, inputs, change.created_by, change.apply)

    def _layer_step(self, run: StageRun, step: Step, inputs: StepInputs, created_by: str, make) -> None:
        record, reason = self._lookup(run, inputs)
        if record is not None:
            diff_id = record.result.get("diff_id")
            layer = self.backend.layer(diff_id) if diff_id else None
            with self.lock:
                build_cache.touch(self.db, inputs.key)
            self._advance(run, inputs, created_by, record.created_at, layer)
            self._end(step, cached=True, reason=None)
            return
        upper = self.backend.workdir("step")
        try:
            make(upper)
            layer = self.backend.commit(upper)
        finally:
            self.backend.release(upper)
        created = time.time()
        result = {"diff_id": layer.diff_id, "size": layer.size} if layer else {}
        self._record(inputs, result, created)
        run.rebuilt = True
        self._advance(run, inputs, created_by, created, layer)
        self._end(step, cached=False, reason=reason)

    # -- the end -----------------------------------------------------------------------------

    def _create_image(self, run: StageRun) -> str:
        state = run.state
        if self.req.labels:
            labels = dict(state.config.get("Labels") or {})
            labels.update(self.req.labels)
            state.config["Labels"] = labels
        created = max((h.get("created", "") for h in state.history), default="") or rfc3339(time.time())
        doc = config_document(state, [layer.diff_id for layer in run.layers], created)
        return self.backend.create_image(doc, run.layers, list(self.req.tags))

    def _warn_unused_args(self) -> None:
        unused = sorted(set(self.req.build_args) - self.used_args - set(PROXY_ARGS)
                        - set(self.plan.meta_env))
        if unused:
            self.progress.warn(f"one or more build-args {unused} were not consumed")

    # -- progress --------------------------------------------------------------------------

    def _begin(self, stage: Stage, inst: Instruction, text: str) -> Step:
        with self.lock:
            step = Step(len(self.steps) + 1, stage.title, inst.line, text, self.total)
            self.steps.append(step)
            self.progress.begin(step)
        return step

    def _end(self, step: Step, cached: bool, reason: str | None) -> None:
        step.cached = cached
        step.reason = reason
        with self.lock:
            self.progress.end(step)


class _Locked:
    """Every call of the wrapped progress under one lock (stages may report from threads)."""

    def __init__(self, inner, lock) -> None:
        self._inner, self._lock = inner, lock

    def __getattr__(self, name: str):
        method = getattr(self._inner, name)

        def call(*args, **kwargs):
            with self._lock:
                return method(*args, **kwargs)

        return call


def _canonical(inst: Instruction) -> str:
    text = " ".join(inst.original.split())
    if inst.heredocs:
        text += "".join(f"\n<<{h.name}\n{h.content}" for h in inst.heredocs)
    return text




__all__ = ["Builder", "BuildRequest", "BuildResult", "BuildError", "InvalidArgument"]
