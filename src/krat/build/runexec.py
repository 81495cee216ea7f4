"""RUN steps inside the builder: the command, its mounts, running it, failing clearly.

A mixin of Builder (krat.build.builder), which provides `req`, `plan`, `results`,
`backend`, `progress`, `lock` and the cache step `_layer_step`.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

from krat.build import runstep
from krat.build.backend import Backend, Mount
from krat.build.cache import StepInputs
from krat.build.copy import materialize
from krat.build.dockerfile import Instruction
from krat.build.fsview import LayerView
from krat.build.progress import Step
from krat.build.state import BuildError, StageRun
from krat.errors import InvalidArgument, NotFound

TAIL_LINES = 10


class RunSteps:
    def _run_step(self, run: StageRun, inst: Instruction, step: Step, where: str) -> None:
        proxies = runstep.proxy_args(self.req.build_args)
        rp = runstep.prepare(run, inst, self.req.filename, self.req.network, proxies)
        self.used_args |= set(rp.args)
        inputs = StepInputs(run.key, rp.canonical, rp.args, self._mount_sources(run, rp, where))

        def make(upper: Path) -> None:
            self._execute(run, rp, upper, step, where, inst)

        self._layer_step(run, step, inputs, rp.created_by, make)

    def _mount_sources(self, run: StageRun, rp: runstep.RunPlan, where: str) -> dict[str, str]:
        sources = {}
        for spec in rp.mounts:
            if spec["type"] == "bind" and "from" not in spec:
                src = spec.get("source", ".")
                for path, digest in self.req.context.manifest(self.req.context.select(src, where)).items():
                    sources[f"mount:{path}"] = digest
            elif spec["type"] == "bind":
                source = self._bind_source(run, spec, where)
                sources[f"mount:--from={spec['from']}"] = source[0]
        return sources

    def _bind_source(self, run: StageRun, spec: dict[str, str], where: str) -> tuple[str, list[Path]]:
        ref = spec["from"]
        for index in run.stage.reads:
            other = self.plan.stages[index]
            if other.name == ref.lower() or str(index) == ref:
                built = self.results[index]
                return built.key, [layer.dir for layer in built.layers]
        with self.lock:
            image = self.backend.image(ref, self.req.pull)
        return image.id, [layer.dir for layer in image.layers]

    def _execute(self, run: StageRun, rp: runstep.RunPlan, upper: Path, step: Step, where: str,
                 inst: Instruction) -> None:
        scratch = self.backend.workdir("mounts")
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        partial = [b""]

        def output(data: bytes) -> None:
            self.progress.output(step, data)
            lines = (partial[0] + data).split(b"\n")
            partial[0] = lines.pop()
            tail.extend(line.decode(errors="replace") for line in lines)

        try:
            mounts = self._mounts(run, rp, scratch, where)
            spec = rp.spec
            env = spec.env + [f"{k}={v}" for k, v in self.req.run_env.items()]
            spec = runstep.RunSpec(spec.argv, env, spec.cwd, spec.user, spec.network, mounts)
            code = self.backend.run([layer.dir for layer in run.layers], upper, spec, output)
        finally:
            self.backend.release(scratch)
        if partial[0]:
            tail.append(partial[0].decode(errors="replace"))
        if code != 0:
            self.progress.failed(step, list(tail))
            last = next((line for line in reversed(tail) if line.strip()), "")
            detail = f": {last.strip()}" if last else ""
            raise BuildError(f"{where}: RUN {short(inst.args[0] if inst.args else '')} "
                             f"failed with exit code {code}{detail}")

    def _mounts(self, run: StageRun, rp: runstep.RunPlan, scratch: Path, where: str) -> list[Mount]:
        mounts = []
        if rp.script is not None:
            script = scratch / "heredoc"
            script.write_bytes(rp.script)
            os.chmod(script, 0o755)
            mounts.append(Mount("bind", str(script), "/dev/.krat-heredoc", True))
        for i, spec in enumerate(rp.mounts):
            if spec["type"] in ("secret", "ssh"):
                mount = self._secret_mount(spec, scratch / f"secret{i}", where)
                if mount is not None:
                    mounts.append(mount)
                continue
            if spec["type"] == "cache":
                source = str(_cache_dir(self.backend, spec))
            elif spec["type"] == "tmpfs":
                source = "tmpfs"
            elif "from" in spec:
                _, layers = self._bind_source(run, spec, where)
                source = str(materialize(LayerView(layers), spec.get("source", "/"), scratch / f"bind{i}"))
            else:
                source = str(self._context_path(spec.get("source", "."), where))
            mounts.append(runstep.mount_for(spec, source))
        mounts += [Mount("bind", host, target, readonly) for host, target, readonly in self.req.volumes]
        return mounts

    def _secret_mount(self, spec: dict[str, str], path: Path, where: str) -> Mount | None:
        """A secret as a private read-only file (mode 0400 unless mode=); absent and optional: none."""
        required = spec.get("required", "false") == "true"
        value = self.req.secrets.get(spec.get("id", "")) if spec["type"] == "secret" else None
        if value is None:
            if required:
                what = f"secret {spec.get('id', '')!r}" if spec["type"] == "secret" else "an ssh agent"
                raise BuildError(f"{where}: RUN needs {what}, which was not given (krat build --secret id=ID,src=FILE)")
            return None
        path.write_bytes(value)
        os.chmod(path, int(spec.get("mode", "0400"), 8))
        os.chown(path, int(spec.get("uid", "0")), int(spec.get("gid", "0")))
        return Mount("bind", str(path), spec["target"], True)

    def _context_path(self, source: str, where: str) -> Path:
        ctx = self.req.context
        rel = ctx.clean(source, where)
        path = ctx.root / rel if rel else ctx.root
        if not path.exists():
            raise NotFound(f"{where}: --mount source {source!r} not found in the build context")
        return path


def _cache_dir(backend: Backend, spec: dict[str, str]) -> Path:
    """A RUN --mount=type=cache directory, with BuildKit's uid/gid/mode options applied."""
    path = backend.cache_dir(spec.get("id") or spec["target"])
    try:
        if "mode" in spec:
            os.chmod(path, int(spec["mode"], 8))
        if "uid" in spec or "gid" in spec:
            os.chown(path, int(spec.get("uid", "0")), int(spec.get("gid", "0")))
    except ValueError:
        raise InvalidArgument(f"invalid cache mount options {spec}: uid, gid and mode are numbers") from None
    return path


def short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
