"""krat's code cache (krat/codecache.py): modules load from it as Python would load them, and
whatever it cannot vouch for (an edited source, a rebuilt cache, another search path, a
foreign file) loads the usual way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")

# Runs in a `python -S` whose sys.path is [the test's package folder (tmp_path/lib), krat's
# src, the stdlib]: builds a cache of the package `pkg` (and what it imports) into argv[2].
BUILD = """
import sys
sys.path[0:1] = [sys.argv[1], {src!r}]
from krat import codecache
import pkg.mod
print(codecache.write(sys.argv[2], codecache.entries(sys.modules), codecache._search_path()))
"""

# Installs the cache argv[2] under the same search path, runs argv[3], prints what loaded pkg.mod.
USE = """
import sys
sys.path[0:1] = [sys.argv[1], {src!r}]
from krat import codecache
codecache.install(sys.argv[2])
exec(sys.argv[3])
import pkg.mod
print(type(pkg.mod.__loader__).__name__, pkg.mod.VALUE, pkg.mod.__file__, pkg.mod.__cached__,
      pkg.__path__[0], type(sys.meta_path[0]).__name__)
"""


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-S", "-c", code.format(src=SRC), *args], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin"})


def make_package(tmp_path: Path, value: str = "1") -> Path:
    root = tmp_path / "lib"   # on the path; the caches go beside it, not in it
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / "pkg" / "__init__.py").write_text("")
    mod = root / "pkg" / "mod.py"
    mod.write_text(f"import json\nVALUE = {value}\n\ndef fail():\n    raise ValueError('from the cached module')\n")
    return mod


def build(tmp_path: Path) -> Path:
    cache = tmp_path / "code.cache"
    proc = python(BUILD, str(tmp_path / "lib"), str(cache))
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 3   # pkg, pkg.mod, json and its own modules
    return cache


def use(tmp_path: Path, cache: Path, before: str = "") -> list[str]:
    proc = python(USE, str(tmp_path / "lib"), str(cache), before)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_modules_load_from_the_cache_as_from_their_files(tmp_path):
    mod = make_package(tmp_path)
    cache = build(tmp_path)
    loader, value, file, cached, path, finder = use(tmp_path, cache, "import json; assert json.dumps([1]) == '[1]'")
    assert (loader, value, finder) == ("CachedCode", "1", "CodeCache")
    assert file == str(mod)
    assert cached == str(tmp_path / "lib" / "pkg" / "__pycache__" / f"mod.{sys.implementation.cache_tag}.pyc")
    assert path == str(tmp_path / "lib" / "pkg")


def test_a_traceback_through_cached_code_shows_its_source_line(tmp_path):
    make_package(tmp_path)
    cache = build(tmp_path)
    proc = python(USE, str(tmp_path / "lib"), str(cache), "import pkg.mod; pkg.mod.fail()")
    assert proc.returncode == 1
    assert "raise ValueError('from the cached module')" in proc.stderr
    assert f'File "{tmp_path / "lib" / "pkg" / "mod.py"}", line 5, in fail' in proc.stderr


def test_an_edited_module_loads_its_new_code(tmp_path):
    mod = make_package(tmp_path)
    cache = build(tmp_path)
    make_package(tmp_path, "22")   # another size
    assert use(tmp_path, cache)[:2] == ["SourceFileLoader", "22"]
    stat = mod.stat()
    make_package(tmp_path, "33")   # the same size: the mtime tells
    os.utime(mod, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert use(tmp_path, cache)[:2] == ["SourceFileLoader", "33"]


REBUILD = ("import subprocess, sys\n"
           f"subprocess.run([sys.executable, '-S', '-c', {BUILD.format(src=SRC)!r}.replace('import pkg.mod', "
           "'import pkg.aaa, pkg.mod'), sys.argv[1], sys.argv[2]], check=True, stdout=subprocess.DEVNULL)\n")


def test_a_cache_rebuilt_after_install_is_not_read_at_the_old_offsets(tmp_path):
    """A process reads the cache file its index came from (it keeps it open), not the new
    one at the old offsets; once that descriptor is gone, not the new one at all."""
    make_package(tmp_path)
    cache = build(tmp_path)
    # Between install and the import, the cache is rewritten (another layout: a new module first).
    (tmp_path / "lib" / "pkg" / "aaa.py").write_text("X = 'x' * 1000\n")
    assert use(tmp_path, cache, REBUILD)[:2] == ["CachedCode", "1"]
    assert use(tmp_path, cache)[:2] == ["CachedCode", "1"]   # the new cache serves the next process
    (tmp_path / "lib" / "pkg" / "aaa.py").write_text("X = 'y' * 2000\n")
    closed = "os.close(sys.meta_path[0].fd)\n"
    assert use(tmp_path, cache, "import os\n" + REBUILD + closed)[:2] == ["SourceFileLoader", "1"]


def test_a_descriptor_closed_under_the_cache_is_opened_again(tmp_path):
    """A forked monitor closes the descriptors it inherits; the number may then name another
    file, which the cache neither reads nor closes."""
    make_package(tmp_path)
    cache = build(tmp_path)
    other = tmp_path / "other.txt"
    other.write_text("another file")
    swap = ("import os\n"
            "finder = sys.meta_path[0]\n"
            "os.close(finder.fd)\n"
            f"fd = os.open({str(other)!r}, os.O_RDONLY)\n"
            "assert fd == finder.fd\n"
            "import atexit\n"
            "atexit.register(lambda: print(os.pread(fd, 100, 0).decode().replace(' ', '_'), finder.fd != fd))\n")
    out = use(tmp_path, cache, swap)
    assert out[:2] == ["CachedCode", "1"]
    assert out[-2:] == ["another_file", "True"]


def test_a_released_descriptor_is_opened_again_for_the_next_module(tmp_path):
    """A monitor lets the cache's descriptor go once it runs (codecache.release); a module it
    loads after that still comes from the cache."""
    make_package(tmp_path)
    cache = build(tmp_path)
    released = ("from krat import codecache\n"
                "codecache.release()\n"
                "assert sys.meta_path[0].fd == -1\n")
    assert use(tmp_path, cache, released)[:2] == ["CachedCode", "1"]


def test_another_search_path_or_a_foreign_file_is_not_used(tmp_path):
    make_package(tmp_path)
    cache = build(tmp_path)
    # A folder put first on the path could hold another pkg: the cache cannot vouch for it.
    other = tmp_path / "other"
    other.mkdir()
    proc = python(USE.replace("sys.path[0:1] = [sys.argv[1], ", f"sys.path[0:1] = [{str(other)!r}, sys.argv[1], "),
                  str(tmp_path / "lib"), str(cache), "")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "SourceFileLoader"
    assert proc.stdout.split()[-1] != "CodeCache"
    for junk in (b"", b"KRATCODE1" + b"\0" * 40, cache.read_bytes()[:100]):
        bad = tmp_path / "bad.cache"
        bad.write_bytes(junk)
        out = use(tmp_path, bad)
        assert out[0] == "SourceFileLoader" and out[-1] != "CodeCache", junk[:20]
    assert use(tmp_path, tmp_path / "missing.cache")[0] == "SourceFileLoader"


def test_a_module_added_on_the_path_after_the_build_turns_the_cache_off(tmp_path):
    """A new top-level module in a folder on the path may shadow one the cache holds from a
    folder further on (a json.py in krat's tree, a package installed in site-packages): the
    folder's mtime has changed, so the cache is not used at all until it is rebuilt."""
    make_package(tmp_path)
    cache = build(tmp_path)
    assert use(tmp_path, cache)[-1] == "CodeCache"
    (tmp_path / "lib" / "json.py").write_text("def dumps(obj):\n    return 'shadowed'\n")
    out = use(tmp_path, cache, "import json; assert json.dumps([1]) == 'shadowed', json.__file__")
    assert out[0] == "SourceFileLoader" and out[-1] != "CodeCache"


def test_the_launcher_runs_krat_from_its_cache(tmp_path):
    """scripts/launcher.py's launcher and cache, as scripts/setup.sh writes them: krat's
    commands run from the cache (krat.cli.main and the run path come from it)."""
    sys.path.insert(0, str(Path(SRC).parent / "scripts"))
    try:
        import launcher
    finally:
        sys.path.pop(0)
    cache = tmp_path / "krat-code.cache"
    launcher.write_code_cache(src=SRC, cache=str(cache))
    target = tmp_path / "krat"
    launcher.write_launcher(str(target), "krat.cli.main:cli", src=SRC, cache=str(cache))
    version = subprocess.run([str(target), "--version"], capture_output=True, text=True, check=True).stdout
    assert "krat" in version
    probe = target.read_text().replace(
        "from krat.cli.main import cli",
        "import json, krat.cli.main, krat.cli.commands.run, krat.engine.containers, krat.runtime.creation\n"
        "print(*sorted({type(sys.modules[m].__loader__).__name__ for m in ('krat.cli.main', "
        "'krat.engine.containers', 'krat.runtime.creation', 'json')}))\n"
        "cli = lambda: 0")
    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["CachedCode"]
