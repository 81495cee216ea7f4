"""The benchmark harness behind bench/run: engines, workloads, timing, the report.

Adding workloads: create bench/workloads/<area>.py defining `WORKLOADS`, a list of
`Workload`s. Each is run on every available engine (krat, docker, podman), each with
private state:

    from harness import Workload

    def setup(engine, ctx):            # once per engine, untimed (ctx.scratch: a temp dir,
        engine.ok("load", "-i", ...)   # ctx.cache: shared between engines, e.g. an archive)

    WORKLOADS = [Workload("ps (100 containers)", command=lambda e, ctx: ["ps", "-a"],
                          setup=setup, repeat=10, target_s=0.15)]

`command` returns the CLI arguments (the same for all three CLIs, or switch on
engine.name); only that command is timed, as a whole process, like a user sees it.
`before_each` runs untimed before every timed run (e.g. to remove what the last run made).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PRIVATE_NET = "KRAT_BENCH_PRIVATE_NET"   # in --private-net's namespaces: the outer netns' inode
TMPFS_STATE = False   # bench/run --tmpfs-state


def state_dirs(engine: "Engine") -> list[Path]:
    """Where an engine keeps its runtime state, which a standard host has on tmpfs (/run):
    krat's --runroot, dockerd's --exec-root, podman's --runroot and --tmpdir."""
    if isinstance(engine, Krat):
        return [engine.runroot]
    base = engine.peer.dir
    return [base / "exec"] if engine.name == "docker" else [base / "runroot", base / "tmp"]


def mount_state_tmpfs(engine: "Engine") -> None:
    """--tmpfs-state: each of the engine's state dirs on a tmpfs of its own (its stop()
    unmounts everything below its private dir)."""
    for path in state_dirs(engine):
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0711", "tmpfs", str(path)], check=True)


def _noop(engine: "Engine", ctx: "Context") -> None:
    return None


@dataclass
class Workload:
    name: str
    command: Callable[["Engine", "Context"], list[str]]
    setup: Callable[["Engine", "Context"], None] = _noop
    before_each: Callable[["Engine", "Context"], None] = _noop
    repeat: int = 5
    target_s: float | None = None          # krat's goal, shown in the report
    parallel: int = 1                      # >1: that many processes at once ("{i}" in args: 0..n-1)
    engines: tuple[str, ...] = ("krat", "docker", "podman")


@dataclass
class Context:
    scratch: Path
    cache: dict = field(default_factory=dict)


class Engine:
    name = "engine"

    def argv(self, *args: str) -> list[str]:
        raise NotImplementedError

    def run(self, *args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.argv(*args), capture_output=True, timeout=timeout, env=self.env)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)} exited {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace')[-500:]}")
        return proc

    ok = run

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


class Krat(Engine):
    name = "krat"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kb-krat-", dir="/tmp"))
        self.root, self.runroot = self.dir / "root", self.dir / "run"
        self.env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        self.env.pop("KRAT_DEBUG", None)
        # what an installed krat has: cached bytecode (a shell may have turned it off)
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        # and its command: the launcher scripts/setup.sh installs (python -S, this tree's src, a code cache);
        # KRAT_BENCH_MODULE=1 measures `python -m krat` instead (site and runpy: ~7 ms more)
        self.command = [sys.executable, "-m", "krat"]
        if not os.environ.get("KRAT_BENCH_MODULE"):
            self.command = [str(self.dir / "krat")]
            _write_launcher(self.command[0])

    def argv(self, *args: str) -> list[str]:
        return [*self.command, "--root", str(self.root), "--runroot", str(self.runroot), *args]

    def stop(self) -> None:
        # Containers a workload left running hold processes, bridges and nftables tables
        # outside self.dir: remove them through krat before the state goes.
        ids = self.run("ps", "-aq", "--no-trunc", check=False).stdout.decode().split()
        if ids:
            self.run("rm", "-f", "-v", *ids, check=False)
        self.run("network", "prune", "-f", check=False)
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
        for target in sorted((m.split()[4] for m in mounts if m.split()[4].startswith(str(self.dir))),
                             key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _write_launcher(target: str) -> None:
    spec = importlib.util.spec_from_file_location("krat_launcher", REPO / "scripts" / "launcher.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_launcher(target, "krat.cli.main:cli", python=sys.executable, src=str(REPO / "src"),
                          cache=f"{target}.cache")
    module.write_code_cache(python=sys.executable, src=str(REPO / "src"), cache=f"{target}.cache")


class PeerEngine(Engine):
    """Docker or Podman through tests/peers.py (private state, never the system's)."""

    def __init__(self, name: str) -> None:
        import peers

        self.name = name
        networking = bool(os.environ.get(PRIVATE_NET))   # bench/run --private-net
        self.peer = peers.Dockerd(networking) if name == "docker" else peers.Podman(networking)
        self.env = self.peer.env

    def argv(self, *args: str) -> list[str]:
        return self.peer.argv(*args)

    def start(self) -> None:
        self.peer.start()

    def stop(self) -> None:
        self.peer.stop()


def _reexec_in_private_net(argv: list[str]) -> int:
    """Docker's and Podman's bridges, iptables rules and CNI address files would change the
    host for good; in a fresh network + mount namespace they go with it. /sys is remounted
    so /sys/class/net shows this namespace (the cgroup mounts are carried over), and CNI's
    state dirs get a tmpfs of their own."""
    setup = ("ip link set lo up && cg=$(mktemp -d) && mount --rbind /sys/fs/cgroup $cg && "
             "mount -t sysfs sysfs /sys && mount --rbind $cg /sys/fs/cgroup && umount -l $cg && rmdir $cg && "
             "for d in /var/lib/cni /run/cni /run/netns; do mkdir -p $d && mount -t tmpfs tmpfs $d; done && "
             'exec "$@"')
    env = {**os.environ, PRIVATE_NET: str(os.stat("/proc/self/ns/net").st_ino)}
    cmd = ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", setup, "sh",
           sys.executable, str(HERE / "run"), *argv]
    return subprocess.run(cmd, env=env).returncode


def available(name: str) -> str | None:
    """None if the engine can run here, else why not."""
    if name == "krat":
        return None
    if name == "docker":
        if not shutil.which("dockerd"):
            return "dockerd is not installed"
        return None if (shutil.which("docker") or Path("/usr/local/bin/docker").exists()) else "docker CLI missing"
    if name == "podman":
        return None if shutil.which("podman") else "podman is not installed"
    return f"unknown engine {name}"


def make_engine(name: str) -> Engine:
    return Krat() if name == "krat" else PeerEngine(name)


def discover(pattern: str | None) -> list[Workload]:
    found: list[Workload] = []
    for path in sorted((HERE / "workloads").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"bench_workloads_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found += getattr(module, "WORKLOADS", [])
    return [w for w in found if not pattern or pattern.lower() in w.name.lower()]


SLOW_RUN_S = 20.0  # after a run this slow, fewer repeats do: the bench must end


def time_workload(engine: Engine, workload: Workload, ctx: Context, repeat: int) -> list[float]:
    workload.setup(engine, ctx)
    # Each engine starts timing on written-back state: the setup's writes and deletions, and the
    # last engine's teardown, are on disk, not in the way of the runs (on ext4 without a
    # journal, a new inode skips those freed in the last 60 s, 300 s while unwritten).
    os.sync()
    times: list[float] = []
    for _ in range(repeat):
        times.append(_time_once(engine, workload, ctx))
        if times[-1] > SLOW_RUN_S and len(times) >= 1 + (repeat > 2):
            print(f"  ({engine.name}: {len(times)} of {repeat} runs; each takes over {SLOW_RUN_S:.0f} s)")
            break
    return times


def time_interleaved(engines: list[Engine], workload: Workload, ctx: Context, repeat: int) -> dict[str, list[float]]:
    """Every engine's runs in turns (krat, docker, podman, then podman, docker, krat, ...) rather
    than one engine's batch after another's: this VM's speed drifts by ~15% over minutes, and a
    ratio of two batches taken minutes apart carries that drift. The daemons are all up
    meanwhile (each engine then runs beside the others' idle daemons, and right after another
    engine's run)."""
    for engine in engines:
        workload.setup(engine, ctx)
    os.sync()
    times: dict[str, list[float]] = {e.name: [] for e in engines}
    for i in range(repeat):
        for engine in engines if i % 2 == 0 else engines[::-1]:
            times[engine.name].append(_time_once(engine, workload, ctx))
    return times


def _time_once(engine: Engine, workload: Workload, ctx: Context) -> float:
    """One timed run of the workload's command (its before_each untimed)."""
    workload.before_each(engine, ctx)
    args = workload.command(engine, ctx)
    start = time.perf_counter()
    if workload.parallel > 1:
        _run_parallel(engine, args, workload.parallel)
    else:
        engine.run(*args)
    return time.perf_counter() - start


def _run_parallel(engine: Engine, args: list[str], n: int) -> None:
    procs = [subprocess.Popen(engine.argv(*[a.replace("{i}", str(i)) for a in args]), env=engine.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(n)]
    failed = [p.communicate()[1].decode(errors="replace")[-300:] for p in procs if p.wait() != 0]
    if failed:
        raise RuntimeError(f"{engine.name}: {len(failed)} of {n} failed: {failed[0]}")


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def report(results: dict[str, dict[str, float]], workloads: list[Workload], engines: list[str]) -> str:
    head = ["workload"] + [f"{e} median" for e in engines] + [f"{e}/krat" for e in engines if e != "krat"] + ["krat target"]
    rows = [head]
    for w in workloads:
        medians = results.get(w.name, {})
        krat = medians.get("krat")
        row = [w.name] + [_fmt(medians.get(e)) for e in engines]
        for e in engines:
            if e != "krat":
                row.append(f"{medians[e] / krat:.2f}x" if krat and e in medians else "-")
        if w.target_s is None:
            row.append("")
        else:
            row.append(f"< {_fmt(w.target_s)} " + ("met" if krat is not None and krat < w.target_s else "MISSED"))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows)


def _interleaved(w: Workload, names: list[str], ctx: Context, repeat: int,
                 results: dict[str, dict[str, float]], raw: dict[str, dict[str, list[float]]]) -> None:
    started: list[Engine] = []
    try:
        for name in names:
            engine = make_engine(name)
            started.append(engine)
            if TMPFS_STATE:
                mount_state_tmpfs(engine)
            engine.start()
        times = time_interleaved(started, w, ctx, repeat)
    except Exception as err:  # the report shows what was measured; a failed engine has no column
        print(f"{w.name}: failed: {err}")
        return
    finally:
        for engine in started:
            engine.stop()
    for name, got in times.items():
        results.setdefault(w.name, {})[name] = statistics.median(got)
        raw.setdefault(w.name, {})[name] = got
        print(f"  {w.name:<40} {name:<7} median {_fmt(statistics.median(got))} (interleaved)", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description="krat vs Docker vs Podman")
    parser.add_argument("-k", dest="pattern", help="only workloads whose name contains this")
    parser.add_argument("-r", "--repeat", type=int, default=None, help="runs per workload (default: its own)")
    parser.add_argument("--engines", default="krat,docker,podman")
    parser.add_argument("--tmpfs-state", action="store_true",
                        help="every engine's runtime state (krat --runroot, dockerd --exec-root, podman "
                             "--runroot and --tmpdir) on tmpfs, as /run is on a standard host; the "
                             "images and containers' storage stay on disk")
    parser.add_argument("--interleave", action="store_true",
                        help="run the engines' repeats in turns instead of one engine's batch after "
                             "another's (all daemons up at once), so that drift over minutes hits all alike")
    parser.add_argument("--private-net", action="store_true",
                        help="run everything in a private network and mount namespace, where the "
                             "peers keep their own networking on (bridge workloads for all engines)")
    args = parser.parse_args(argv)
    if args.private_net and not os.environ.get(PRIVATE_NET):
        return _reexec_in_private_net(argv)
    global TMPFS_STATE
    TMPFS_STATE = args.tmpfs_state

    workloads = discover(args.pattern)
    if not workloads:
        print("no workloads matched", file=sys.stderr)
        return 1
    engines = []
    for name in args.engines.split(","):
        reason = available(name)
        if reason:
            print(f"skipping {name}: {reason}")
        else:
            engines.append(name)
    ctx = Context(Path(tempfile.mkdtemp(prefix="kb-", dir="/tmp")))
    results: dict[str, dict[str, float]] = {}
    raw: dict[str, dict[str, list[float]]] = {}
    try:
        for w in workloads:
            if args.interleave:
                _interleaved(w, [e for e in engines if e in w.engines], ctx, args.repeat or w.repeat, results, raw)
                continue
            for name in [e for e in engines if e in w.engines]:
                engine = make_engine(name)
                try:
                    if TMPFS_STATE:
                        mount_state_tmpfs(engine)
                    engine.start()
                    times = time_workload(engine, w, ctx, args.repeat or w.repeat)
                except BaseException as err:  # one engine failing must not lose the others' numbers
                    if isinstance(err, KeyboardInterrupt):
                        raise
                    print(f"{w.name} on {name}: failed: {err}")
                    continue
                finally:
                    engine.stop()
                results.setdefault(w.name, {})[name] = statistics.median(times)
                raw.setdefault(w.name, {})[name] = times
                print(f"  {w.name:<40} {name:<7} median {_fmt(statistics.median(times))}", flush=True)
    finally:
        shutil.rmtree(ctx.scratch, ignore_errors=True)
    print()
    print(report(results, workloads, engines))
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / time.strftime("%Y%m%d-%H%M%S.json")).write_text(json.dumps({"medians": results, "runs": raw}, indent=2))
    return 0
