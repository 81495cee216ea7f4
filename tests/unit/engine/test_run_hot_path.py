"""`krat run` must start fast: nothing heavy on its import path (DESIGN.md, Speed), and the
monitor, which lives as long as its container, must stay small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[3] / "src")


def words_of(code: str) -> list[str]:
    """What code prints, split in words, run in a fresh `python -S` with only this tree's src
    on its path (the modules it loads are its own, none of pytest's)."""
    return subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}).stdout.split()
HEAVY = ("httpx", "yaml", "asyncio", "tarfile", "pyroute2", "click")


def loaded_after(imports: str, flags: tuple[str, ...] = ()) -> set[str]:
    code = f"import sys\n{imports}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}).stdout
    return set(out.split())


def test_run_path_imports_nothing_heavy():
    modules = loaded_after("import krat.cli.main, krat.cli.commands.run, krat.cli.container_flags, "
                           "krat.cli.session, krat.engine.containers, krat.engine.bundle, krat.engine.ocigen, "
                           "krat.engine.attach, krat.engine.containernet, krat.engine.images, krat.engine.cleanup, "
                           "krat.engine.runtimes, krat.store.snapshots")
    assert not [m for m in HEAVY if m in modules]


def test_monitor_imports_only_what_it_must():
    modules = loaded_after("import krat.engine.monitor, krat.engine.logs, krat.engine.runtimes", ("-S",))
    for heavy in ("typing", "re", "json", "sqlite3", "subprocess", "krat.db", "krat.runtime", "socket"):
        assert heavy not in modules, heavy


def test_run_path_makes_its_types_without_dataclasses_or_typing():
    """Records come from krat.oci.records; bridge, firewall and DNS-helper code (subprocess) and
    random loads only when a network or a published port asks for it (not with --network none)."""
    modules = loaded_after("import krat.cli.main, krat.cli.commands.run, krat.cli.container_flags, "
                           "krat.cli.netflags, krat.cli.session, krat.engine.containers, krat.engine.bundle, "
                           "krat.engine.ocigen, krat.engine.containernet, krat.engine.images, krat.engine.cleanup, "
                           "krat.engine.runtimes, krat.store.snapshots, krat.store.layers")
    for heavy in ("dataclasses", "inspect", "typing", "subprocess", "random", "base64", "krat.net.bridge",
                  "krat.net.firewall", "krat.engine.netdns"):
        assert heavy not in modules, heavy


def test_runtime_child_imports_no_json_re_enum_or_typing():
    """The monitor's forked child imports these on every start, in a `python -S` process."""
    modules = loaded_after("import krat.runtime.creation, krat.runtime.container, krat.runtime.seccomp", ("-S",))
    for heavy in ("dataclasses", "typing", "re", "json", "enum", "signal", "subprocess", "socket", "hashlib"):
        assert heavy not in modules, heavy


def test_runtime_child_loads_hooks_and_math_only_where_used():
    """The monitor's runtime child loads krat.runtime before it says "ready" (the monitor's
    way to "go"): hooks only for a spec with hooks (creation and the early init load them
    then), math only for a v2 cpu.shares limit."""
    modules = loaded_after("import krat.runtime.creation, krat.runtime.earlyinit, krat.runtime.container, "
                           "krat.runtime.seccomp, krat.runtime.cgroups", ("-S",))
    assert "krat.runtime.creation" in modules  # the check saw the path
    for heavy in ("krat.runtime.hooks", "math"):
        assert heavy not in modules, heavy


def test_exec_path_imports_little():
    """`krat exec` is timed against `docker exec`: its modules load none of these at import."""
    modules = loaded_after("import krat.cli.main, krat.cli.commands.exec, krat.engine.execs, krat.engine.config, "
                           "krat.db.lookup, krat.runtime.tenant, krat.runtime.cgroupwarm",
                           ("-S",))
    for heavy in ("dataclasses", "typing", "re", "json", "enum", "sqlite3", "subprocess", "socket", "signal",
                  "pathlib", "argparse", "ctypes", "krat.engine.containers", "krat.engine.spec", "krat.engine.runtimes",
                  "krat.runtime.seccomp", "krat.runtime.creation", "krat.runtime.earlyinit", "krat.runtime.mounts",
                  "krat.runtime.hooks", "krat.oci.runtime", "krat.oci.linux", "resource"):
        assert heavy not in modules, heavy


def test_rootfs_mount_calls_libc_without_the_ctypes_package():
    """snapshots' mount and umount2 go through _ctypes alone (the ctypes package costs
    `krat run` ~1-3 ms); the call still reports errno."""
    code = ("import sys\nfrom krat.store import snapshots\nfrom krat.runtime import libc\n"
            "rc = libc.process().umount2(b'/nonexistent/krat-hot-path', 0)\n"
            "print(rc, libc.get_errno(), libc.umount2('/nonexistent/krat-hot-path'), 'ctypes' in sys.modules)")
    out = words_of(code)
    assert out[0] == "-1" and out[1] in ("1", "2")  # EPERM without root, else ENOENT
    assert out[2] == out[1]
    assert out[3] == "False"


def test_exec_lookup_finds_the_row_without_functools(tmp_path):
    """krat.db.lookup loads _sqlite3 without functools (and collections with it), yet finds a
    container by name and by id prefix, and leaves no stand-in module behind."""
    from krat.db import containers, open_database

    db_path = str(tmp_path / "krat.db")
    db = open_database(tmp_path / "krat.db")
    row = containers.ContainerRow(
        id="ab12" + "0" * 60, name="web", image_id="sha256:" + "1" * 64, image_ref="busybox", created="now",
        spec='{"runtime": ""}', status="created", pid=0, monitor_pid=0, monitor_start=0, exit_code=0, error="",
        started_at="", finished_at="", oom_killed=False, restart_count=0, stop_requested=False)
    containers.insert(db, row)
    db.close()
    code = ("import sys, krat.db.lookup as l\n"
            f"print(l.find_container({db_path!r}, 'web')['id'], l.find_container({db_path!r}, 'ab1')['name'],\n"
            f"      l.find_container({db_path!r}, 'nope'), 'functools' in sys.modules)\n"
            "import functools; print(functools.reduce(lambda a, b: a + b, [1, 2]))")
    out = words_of(code)
    assert out == [row.id, "web", "None", "False", "3"]


def test_run_network_none_loads_no_socket_shutil_json_or_net_parsers():
    """`krat run --rm --network none IMAGE CMD` (no ports, DNS flags or mounts): its flags,
    spec and every module its create/start/remove path imports load none of these (each
    costs the run 0.2-1.5 ms; the code that needs them imports them where it does)."""
    modules = loaded_after(
        "from krat.cli.container_flags import build_spec, parse_flags\n"
        "build_spec(parse_flags('run', '', ['--rm', '--network', 'none', 'busybox', 'true']))\n"
        "import krat.cli.main, krat.cli.commands.run, krat.cli.session, krat.engine.containers, "
        "krat.engine.containernet, krat.engine.networks, krat.engine.volumes, krat.engine.bundle, "
        "krat.engine.ocigen, krat.engine.images, krat.engine.attach, krat.engine.cleanup, "
        "krat.engine.runtimes, krat.engine.profiles, krat.store.snapshots, krat.runtime.container",
        ("-S",))
    for heavy in ("socket", "selectors", "shutil", "bz2", "lzma", "json", "signal",
                  "krat.net.ipam", "krat.net.ports", "krat.engine.mountspec"):
        assert heavy not in modules, heavy
    assert "krat.engine.containernet" in modules  # the check saw the path's modules


# Run in a child: records every executed import statement as an edge importer -> module (a
# module's own imports run once, when it first loads, so the graph is whole whatever loads
# first; a C module's imports count as its importer's), then lists what the run path's krat
# modules reach without going through `through`.
REACH = r"""
import builtins, sys
edges = {}
real = builtins.__import__
def traced(name, globals=None, locals=None, fromlist=(), level=0):
    module = real(name, globals, locals, fromlist, level)
    frame = sys._getframe(1)   # the importing module; a C module's own imports go to its importer's
    while frame is not None and (frame.f_code is traced.__code__
                                 or "importlib" in frame.f_globals.get("__name__", "")):
        frame = frame.f_back
    importer = frame.f_globals.get("__name__", "") if frame is not None else ""
    targets = [name] + [f"{name}.{item}" for item in fromlist or () if f"{name}.{item}" in sys.modules]
    for target in targets:
        if getattr(sys.modules.get(target), "__spec__", 0) is None:
            continue   # a stand-in made by hand (krat.db.lookup's functools), not the module
        edges.setdefault(importer, set()).add(target)
        parts = target.split(".")
        for i in range(1, len(parts)):   # a submodule loads its packages
            edges.setdefault(".".join(parts[:i + 1]), set()).add(".".join(parts[:i]))
    return module
builtins.__import__ = traced
exec(sys.argv[1])
through = set(sys.argv[2].split(","))
seen, todo = set(), [m for m in edges if m.startswith("krat")]
while todo:
    m = todo.pop()
    if m in seen or m in through:
        continue
    seen.add(m)
    todo.extend(edges.get(m, ()))
print("\n".join(sorted(seen)))
"""


def test_run_network_none_reaches_no_enum_ipaddress_or_contextlib():
    """`krat run --rm --network none IMAGE CMD`: none of its modules, nor the standard modules
    they load, import enum, ipaddress, contextlib or collections (~8 ms together). pathlib
    loads some of them itself and is leaving the run path on its own account: the check
    looks past it."""
    # The db modules first, as they load once pathlib (connection's, which loads functools) is
    # gone: _sqlite3 then comes without functools (see krat.db.lookup).
    code = ("import krat.db.migrate\n"
            "from krat.cli.container_flags import build_spec, parse_flags\n"
            "spec, name, netvol = build_spec(parse_flags('run', '', ['--rm', '--network', 'none', 'busybox', 'true']))\n"
            "import krat.cli.main, krat.cli.commands.run, krat.cli.session, krat.engine.containers\n"
            "import krat.engine.containernet, krat.engine.bundle, krat.engine.ocigen, krat.engine.images\n"
            "import krat.engine.attach, krat.engine.cleanup, krat.engine.profiles, krat.store.snapshots\n"
            "import krat.runtime.libc, krat.db.images, krat.db.containers, krat.engine.monitorspawn\n"
            "from krat.engine.netrequest import is_plain_none\n"
            "assert is_plain_none(netvol, {})\n")
    out = subprocess.run([sys.executable, "-S", "-c", REACH, code, "pathlib"], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}).stdout
    reached = set(out.split())
    assert "krat.engine.containers" in reached and "os" in reached  # the check saw the path
    for heavy in ("enum", "ipaddress", "contextlib", "collections", "collections.abc", "functools",
                  "krat.engine.netattach", "krat.engine.networks", "krat.engine.volumes", "krat.net",
                  "krat.db.volumes"):
        assert heavy not in reached, heavy


def test_plain_network_none_keeps_one_row_without_the_network_rows_module(tmp_path):
    """A plain `--network none` container's networking is its container_networking row: saved
    at create and forgotten at remove through krat.db.container_networking, without loading
    krat.db.networks; the general path still reads the same row."""
    code = (
        "import sys\n"
        "from krat.db import open_database\n"
        "from krat.engine.config import Paths\n"
        "from krat.engine.containernet import ContainerNet\n"
        "from krat.engine.netrequest import NetVolRequest, NetworkingRequest\n"
        f"db = open_database({str(tmp_path / 'krat.db')!r})\n"
        f"net = ContainerNet(db, Paths({str(tmp_path / 'root')!r}, {str(tmp_path / 'run')!r}))\n"
        "net.create('c1', 'web', NetVolRequest(NetworkingRequest('none')), {})\n"
        "print(net.is_plain('c1'), 'krat.db.networks' in sys.modules)\n"
        "from krat.db import networks\n"
        "print(networks.container_config(db, 'c1')[0])\n"
        "net.remove('c1')\n"
        "print(networks.container_config(db, 'c1'))\n")
    out = words_of(code)
    assert out == ["True", "False", "web", "None"]


def test_run_finds_its_image_without_the_image_sql_module(tmp_path):
    """`run` resolves its image by tag and by id prefix and reads the row it starts from
    through krat.db.imagerows alone (krat.db.images re-exports the same objects), and a tag
    in any registry without krat.oci.reference (its regular expressions: ~3 ms)."""
    from krat.db import images, imagerows, open_database

    assert images.ImageRow is imagerows.ImageRow and images.image_by_tag is imagerows.image_by_tag
    db = open_database(str(tmp_path / "krat.db"))
    image_id = "sha256:" + "ab" * 32
    with db.transaction():
        images.insert_image(db, images.ImageRow(image_id, "sha256:" + "cd" * 32, "now", 7, "amd64", "linux",
                                                None, 1.0), [])
        images.set_tag(db, "docker.io/library/box:latest", "docker.io/library/box", "latest", image_id)
        images.set_tag(db, "docker.io/bench/box:1", "docker.io/bench/box", "1", image_id)
        images.set_tag(db, "localhost:5000/team/box:latest", "localhost:5000/team/box", "latest", image_id)
        images.set_run_doc(db, image_id, '{"config": {"config": {"Cmd": ["sh"]}}, "diff_ids": [], '
                                         '"blob_digests": [], "layer_dirs": []}')
    db.close()
    code = (
        "import sys\n"
        "from krat.db import open_database\n"
        "from krat.engine.config import Paths\n"
        "from krat.engine.images import ImageService\n"
        f"svc = ImageService(Paths({str(tmp_path)!r}, {str(tmp_path / 'run')!r}), "
        f"open_database({str(tmp_path / 'krat.db')!r}))\n"
        "found = svc.resolve_id('box')\n"
        "names = ('docker.io/library/box', 'bench/box:1', 'docker.io/bench/box:1', 'localhost:5000/team/box')\n"
        "print(all(svc.resolve_id(n) == found for n in names), 'krat.oci.reference' in sys.modules, 're' in sys.modules)\n"
        "print(found == svc.resolve_id('abab'), svc.get_for_run(found).config['Cmd'][0], svc.exists('nope'))\n"
        "print('krat.db.images' in sys.modules, svc.resolve_id('docker.io/box') == found)\n")
    out = words_of(code)
    # by tag, whatever the registry, without the reference parser (a name Docker rewrites
    # further, docker.io/box for docker.io/library/box, and a miss go through it)
    assert out == ["True", "False", "False", "True", "sh", "False", "False", "True"]
