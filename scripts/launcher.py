"""Write krat's commands (`krat`, `krat-runtime`) as lean launchers.

    .venv/bin/python scripts/launcher.py TARGET MODULE:FUNCTION

pip's console script starts Python with `site` (~3 ms: it scans site-packages and its
.pth files) and imports `re` to clean up argv[0] (~3 ms), before krat runs at all: ~5 ms
of every command (`krat --version`: 15 ms with pip's script, 9.5 ms with this launcher).
The launcher runs this interpreter with -S and puts exactly what `site` would have given
krat on sys.path: its source tree and the environment's site-packages (the pinned
dependencies). Written by scripts/setup.sh over pip's scripts
in .venv/bin; `python -m krat` keeps working as before.

The launcher also puts krat's code cache first on the import path (krat/codecache.py): the
compiled code of every module krat's commands load, in one file, found without searching
sys.path (~3 ms of `krat run`). `launcher.py --code-cache` (re)writes that cache; without it,
or with a stale one, imports go the usual way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

TEMPLATE = """\
#!{python} -S
# krat's launcher (written by scripts/launcher.py): no `site`, no `re`, a code cache; see that file.
import sys
sys.path[0:1] = {paths!r}
try:
    from krat.codecache import install
except ImportError:   # a checkout older than the cache
    pass
else:
    install({cache!r})
from {module} import {function}
sys.exit({function}())
"""


def search_path(src: str) -> list[str]:
    """What the launcher puts first on sys.path: krat's tree, then the pinned dependencies."""
    paths = [src]
    for key in ("purelib", "platlib"):
        path = sysconfig.get_paths()[key]
        if path not in paths:
            paths.append(path)
    return paths


def cache_file(src: str) -> str:
    return os.path.join(src, "krat", "__pycache__", "krat-code.cache")


def launcher_text(python: str, src: str, module: str, function: str, cache: str | None = None) -> str:
    return TEMPLATE.format(python=python, paths=search_path(src), cache=cache or cache_file(src), module=module,
                           function=function)


def write_code_cache(python: str = sys.executable, src: str | None = None, cache: str | None = None) -> None:
    """Build the code cache the launchers read, in a `python -S` whose sys.path is theirs."""
    src = src or default_src()
    cache = cache or cache_file(src)
    code = (f"import sys; sys.path[0:1] = {search_path(src)!r}\n"
            "from krat.codecache import main; sys.exit(main())")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    subprocess.run([python, "-S", "-c", code, "build", cache], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def default_src() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def write_launcher(target: str, entry: str, python: str = sys.executable, src: str | None = None,
                   cache: str | None = None) -> None:
    module, _, function = entry.partition(":")
    src = src or default_src()
    tmp = f"{target}.tmp"
    with open(tmp, "w") as f:
        f.write(launcher_text(python, src, module, function, cache))
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)  # over pip's script (or a symlink) without following it


if __name__ == "__main__":
    if sys.argv[1:] == ["--code-cache"]:
        write_code_cache()
    elif len(sys.argv) != 3 or ":" not in sys.argv[2]:
        sys.exit("usage: launcher.py TARGET MODULE:FUNCTION | launcher.py --code-cache")
    else:
        write_launcher(sys.argv[1], sys.argv[2])
