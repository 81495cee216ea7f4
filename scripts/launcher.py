"""Write krat's commands (`krat`, `krat-runtime`) as lean launchers.

    .venv/bin/python scripts/launcher.py TARGET MODULE:FUNCTION

pip's console script starts Python with `site` (~3 ms: it scans site-packages and its
.pth files) and imports `re` to clean up argv[0] (~3 ms), before krat runs at all: ~5 ms
of every command (`krat --version`: 15 ms with pip's script, 9.5 ms with this launcher).
The launcher runs this interpreter with -S and puts exactly what `site` would have given
krat on sys.path: its source tree and the environment's site-packages (the pinned
dependencies). Written by scripts/setup.sh over pip's scripts
in .venv/bin; `python -m krat` keeps working as before.
"""

from __future__ import annotations

import os
import sys
import sysconfig

TEMPLATE = """\
#!{python} -S
# krat's launcher (written by scripts/launcher.py): no `site`, no `re`; see that file.
import sys
sys.path[0:1] = {paths!r}
from {module} import {function}
sys.exit({function}())
"""


def launcher_text(python: str, src: str, module: str, function: str) -> str:
    paths = [src]
    for key in ("purelib", "platlib"):
        path = sysconfig.get_paths()[key]
        if path not in paths:
            paths.append(path)
    return TEMPLATE.format(python=python, paths=paths, module=module, function=function)


def write_launcher(target: str, entry: str, python: str = sys.executable, src: str | None = None) -> None:
    module, _, function = entry.partition(":")
    if src is None:
        src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    tmp = f"{target}.tmp"
    with open(tmp, "w") as f:
        f.write(launcher_text(python, src, module, function))
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)  # over pip's script (or a symlink) without following it


if __name__ == "__main__":
    if len(sys.argv) != 3 or ":" not in sys.argv[2]:
        sys.exit("usage: launcher.py TARGET MODULE:FUNCTION")
    write_launcher(sys.argv[1], sys.argv[2])
