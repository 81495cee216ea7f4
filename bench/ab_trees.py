"""A/B two krat source trees on the same machine, interleaved so both see the same load.

    python3 bench/ab_trees.py /work/main /work/wt/mine            # krat run --rm wall time
    python3 bench/ab_trees.py --imports /work/main /work/wt/mine  # -X importtime self-sums
    python3 bench/ab_trees.py --exec NAME /work/main /work/wt/mine  # krat exec NAME true

Wall time: `krat run --rm --network none busybox true` through each tree's own launcher and
code cache, as scripts/setup.sh writes them (in a temporary folder) (KRAT_ROOT/KRAT_RUNROOT
from the environment must hold a busybox image: `python3 scripts/busybox-rootfs.py |
krat import --change 'CMD ["sh"]' - busybox:latest`). Imports: the same command under
-X importtime, and the runtime child's `python -S -c "import krat.runtime.creation,
krat.runtime.container"`; the sum of every module's own time, as a start pays it.
Exec: `krat exec NAME true` into a running container NAME of that state.
Bytecode is written and used (an installed krat has it), whatever the shell says.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

RUN = ["run", "--rm", "--network", "none", "busybox", "true"]
CHILD = ["-S", "-c", "import krat.runtime.creation, krat.runtime.container"]


def _env(tree: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.path.join(tree, "src"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def launchers(python: str, trees: list[str], folder: str) -> dict[str, str]:
    """Each tree's `krat` launcher and code cache, written by this checkout's scripts/launcher.py."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "launcher.py")
    spec = importlib.util.spec_from_file_location("krat_launcher", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = {}
    for i, tree in enumerate(trees):
        target, src = os.path.join(folder, f"krat{i}"), os.path.join(os.path.abspath(tree), "src")
        if os.path.exists(os.path.join(src, "krat", "codecache.py")):
            module.write_code_cache(python, src, f"{target}.cache")
        module.write_launcher(target, "krat.cli.main:cli", python, src, f"{target}.cache")
        found[tree] = target
    return found


def wall(command: str, tree: str, argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([command, *argv], check=True, env=_env(tree), stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_self_sum(python: str, tree: str, argv: list[str]) -> float:
    err = subprocess.run([python, "-X", "importtime", *argv], env=_env(tree), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True).stderr
    return sum(int(m[1]) for m in re.finditer(r"^import time:\s+(\d+) \|", err, re.M)) / 1e6


def compare(label: str, trees: list[str], measure, runs: int) -> None:
    got: dict[str, list[float]] = {t: [] for t in trees}
    for t in trees:
        measure(t)  # warm-up: bytecode, page cache
    for i in range(runs):
        for t in trees if i % 2 == 0 else trees[::-1]:
            got[t].append(measure(t))
    for t in trees:
        v = got[t]
        print(f"{label:<28} {t:<28} median {statistics.median(v) * 1e3:6.1f} ms  "
              f"min {min(v) * 1e3:6.1f}  max {max(v) * 1e3:6.1f}  (n={runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs=2)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--imports", action="store_true", help="compare import times instead of wall time")
    parser.add_argument("--exec", metavar="NAME", help="time `krat exec NAME true` instead of run")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    py = args.python
    if args.imports:
        compare("imports: krat run CLI", args.trees, lambda t: import_self_sum(py, t, ["-m", "krat", *RUN]),
                args.runs)
        compare("imports: runtime child", args.trees, lambda t: import_self_sum(py, t, CHILD), args.runs)
        return
    with tempfile.TemporaryDirectory(prefix="kb-ab-") as folder:
        command = launchers(py, args.trees, folder)
        if args.exec:
            compare("krat exec (wall)", args.trees, lambda t: wall(command[t], t, ["exec", args.exec, "true"]),
                    args.runs)
        else:
            compare("krat run --rm (wall)", args.trees, lambda t: wall(command[t], t, RUN), args.runs)


if __name__ == "__main__":
    main()
