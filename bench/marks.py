"""CLI phase marks, on the same clock as the monitor's KRAT_TRACE=FILE.

    KRAT_TREE=$PWD KRAT_TRACE=/tmp/me.tr /work/main/.venv/bin/python -S bench/marks.py run --rm --network none busybox true
    sort -n /tmp/me.tr     # CLI and monitor marks, in CLOCK_MONOTONIC ms

Edit TARGETS to wrap other functions (module -> (class or None, [function names])).
The import hook adds ~10% overhead: use it to see the shape, bench/ab_trees.py for numbers.
"""
import os, sys, time, builtins
START = time.clock_gettime(time.CLOCK_MONOTONIC) * 1000
tree = os.environ.get("KRAT_TREE") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the venv's site-packages, as the launcher has it (under -S, sys.prefix is the base Python's)
venv = os.path.dirname(os.path.dirname(sys.executable))
sys.path[0:1] = [tree + "/src", f"{venv}/lib/python3.{sys.version_info.minor}/site-packages"]
try:  # the tree's code cache, as its launcher has it (scripts/launcher.py --code-cache)
    from krat.codecache import install
    install(tree + "/src/krat/__pycache__/krat-code.cache")
except ImportError:
    pass
OUT = os.environ.get("KRAT_TRACE") or "/dev/stderr"
out = [("cli process started (interpreter ~7 ms earlier)", START)]
def mark(n): out.append((n, time.clock_gettime(time.CLOCK_MONOTONIC) * 1000))
def wrap(o, name):
    f = getattr(o, name)
    def w(*a, **k):
        mark(f"> {name}")
        try: return f(*a, **k)
        finally: mark(f"< {name}")
    setattr(o, name, w)
TARGETS = {
 "krat.cli.commands.run": (None, ["run"]),
 "krat.engine.monitorspawn": (None, ["spawn_early", "await_early"]),
 "krat.cli.container_flags": (None, ["parse_flags", "build_spec"]),
 "krat.engine.containers": ("ContainerService", ["has_image", "create", "prepare", "start", "finish_removal", "refresh", "_launch_monitor", "_insert", "_handshake"]),
 "krat.cli.session": (None, ["attach_session"]),
}
done = set()
real_import = builtins.__import__
def imp(name, *a, **k):
    r = real_import(name, *a, **k)
    for mod, (cls, fns) in TARGETS.items():
        m = sys.modules.get(mod)
        if mod not in done and m is not None and hasattr(m, fns[0] if cls is None else cls):
            done.add(mod); mark(f"imported {mod}")
            o = m if cls is None else getattr(m, cls)
            for f in fns:
                if hasattr(o, f): wrap(o, f)
    return r
builtins.__import__ = imp
import krat.cli.main as m
mark("krat.cli.main imported")
real_exit = os._exit
PID = os.getpid()
def ex(code):
    if os.getpid() != PID:  # a fork of the CLI (run's monitor, its runtime child): not the CLI's marks
        real_exit(code)
    mark("exit")
    with open(OUT, "a") as f:
        for n, t in out: f.write(f"{t:.1f} cli {n}\n")
    real_exit(code)
os._exit = ex
m.cli()
