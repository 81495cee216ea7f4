"""The container init sequence, run against a recording Syscalls: order and arguments."""

from __future__ import annotations

import os

from krat.oci.runtime import Spec
from krat.runtime import capabilities as caps
from krat.runtime import init
from krat.runtime import syscalls as sc
from krat.runtime.syscalls import RecordingSyscalls


def _spec(tmp_path, **linux) -> Spec:
    masked_dir = tmp_path / "masked-dir"
    masked_dir.mkdir()
    masked_file = tmp_path / "masked-file"
    masked_file.write_text("secret")
    return Spec.from_json({
        "process": {"args": ["/bin/sh"], "cwd": "/", "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
                    "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                                     "permitted": ["CAP_KILL"]},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}], "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "box",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
                   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"]}],
        "linux": {"namespaces": [{"type": "mount"}], "maskedPaths": [str(masked_dir), str(masked_file)],
                  "readonlyPaths": [str(tmp_path)], "sysctl": {"net.ipv4.ip_forward": "1"}, **linux},
    })


def _context(tmp_path, **linux) -> init.InitContext:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    spec = _spec(tmp_path, **linux)
    ctx = init.InitContext(spec=spec, rootfs=str(rootfs), sys=RecordingSyscalls())
    ctx.cap_masks = caps.masks(spec.process.capabilities, (1 << 41) - 1)
    ctx.cap_top = 40
    return ctx


def test_the_sequence(tmp_path):
    ctx = _context(tmp_path)
    init.run_steps(ctx, init.INIT_STEPS)
    calls = ctx.sys.calls
    rootfs = ctx.rootfs
    assert calls[0] == ("mount", "", "/", "", sc.MS_REC | sc.MS_PRIVATE)
    assert calls[1] == ("mount", rootfs, rootfs, "", sc.MS_BIND | sc.MS_REC)
    mounts = [c for c in calls if c[0] == "mount"]
    assert ("mount", "proc", rootfs + "/proc", "proc", sc.MS_NOSUID, "") in mounts
    assert ("mount", "tmpfs", rootfs + "/dev", "tmpfs", 0, "mode=755") in mounts
    assert ("mknod", rootfs + "/dev/null", 0o20666, os.makedev(1, 3)) in calls
    assert ("symlink", "/proc/self/fd", rootfs + "/dev/fd") in calls
    pivot = calls.index(("pivot_root", ".", "."))
    assert calls[pivot - 1] == ("chdir", rootfs)
    assert calls[pivot + 2] == ("umount", ".", sc.MNT_DETACH)  # the old root, lazily
    after = calls[pivot:]
    assert ("write_file", "/proc/sys/net/ipv4/ip_forward", "1") in after
    assert ("mount", "tmpfs", str(tmp_path / "masked-dir"), "tmpfs", sc.MS_RDONLY) in after
    assert ("mount", "/dev/null", str(tmp_path / "masked-file"), "", sc.MS_BIND) in after
    assert ("sethostname", "box") in after
    assert ("setrlimit", 7, 100, 200) in after  # below the hard limit: kept as asked
    names = ctx.sys.names()
    # bounding drop, then keepcaps around the user switch, then capset, then no_new_privs
    user = names.index("set_user")
    assert names.index("capset") > user
    assert calls[user] == ("set_user", 1000, 1000, (10,))
    assert calls[user - 1] == ("prctl", sc.PR_SET_KEEPCAPS, 1)
    dropped = [c[2] for c in calls if c[:2] == ("prctl", sc.PR_CAPBSET_DROP)]
    assert 5 not in dropped and 0 not in dropped and 21 in dropped and len(dropped) == 39
    assert ("capset", 1 << 5, 1 << 5, 0) in calls
    assert calls[-2] == ("prctl", sc.PR_SET_NO_NEW_PRIVS, 1)
    assert calls[-1] == ("chdir", "/")
    assert ctx.executable == "/bin/sh"


def test_readonly_root_is_remounted(tmp_path):
    ctx = _context(tmp_path)
    init.readonly_root(ctx)
    (name, source, target, fstype, flags) = ctx.sys.calls[0]
    assert (name, target) == ("mount", "/")
    assert flags & sc.MS_RDONLY and flags & sc.MS_REMOUNT and flags & sc.MS_BIND


def test_propagation_from_the_spec(tmp_path):
    ctx = _context(tmp_path, rootfsPropagation="rslave")
    init.set_propagation(ctx)
    assert ctx.sys.calls == [("mount", "", "/", "", sc.MS_SLAVE | sc.MS_REC)]


def test_exec_steps_do_not_touch_mounts(tmp_path):
    ctx = _context(tmp_path)
    init.run_steps(ctx, init.EXEC_STEPS)
    assert "mount" not in ctx.sys.names() and "pivot_root" not in ctx.sys.names()
    assert "set_user" in ctx.sys.names()


def test_cgroup_mount_v1_with_cgroupns(tmp_path):
    from krat.runtime.cgroups import Hierarchy
    from krat.runtime.mounts import plan_mount
    from krat.oci.process import Mount

    ctx = _context(tmp_path)
    ctx.hierarchies = [Hierarchy("/sys/fs/cgroup/memory", ("memory",), "memory")]
    ctx.cgroupns = True
    init.mount_cgroup(ctx, plan_mount(Mount("/sys/fs/cgroup", "cgroup", "cgroup", ("ro", "nosuid"))))
    target = ctx.rootfs + "/sys/fs/cgroup"
    mounts = [c for c in ctx.sys.calls if c[0] == "mount"]
    assert mounts[0] == ("mount", "tmpfs", target, "tmpfs", sc.MS_NOSUID, "mode=755")
    assert mounts[1] == ("mount", "cgroup", target + "/memory", "cgroup", sc.MS_RDONLY | sc.MS_NOSUID, "memory")
    assert mounts[2][4] & sc.MS_RDONLY and mounts[2][4] & sc.MS_REMOUNT


def test_rlimits_never_exceed_the_current_hard_limit():
    assert init.rlimit_values(1024, 1024, 20000) == (1024, 1024)
    assert init.rlimit_values(1048576, 1048576, 20000) == (20000, 20000)
    assert init.rlimit_values(100, 1048576, 20000) == (100, 20000)
    import resource

    infinity = resource.RLIM_INFINITY
    assert init.rlimit_values(5, 10, infinity) == (5, 10)


def _v1_context(tmp_path, sys):
    from krat.runtime.cgroups import Hierarchy

    ctx = _context(tmp_path)
    ctx.sys = sys
    ctx.hierarchies = [Hierarchy("/sys/fs/cgroup/memory", ("memory",), "memory"),
                       Hierarchy("/sys/fs/cgroup/pids", ("pids",), "pids")]
    ctx.cgroup_dirs = {"memory": "/sys/fs/cgroup/memory/krat/c1", "pids": "/sys/fs/cgroup/pids/krat/c1"}
    return ctx


def test_cgroup_mount_v1_binds_made_read_only_in_one_call(tmp_path):
    from krat.oci.process import Mount
    from krat.runtime.mounts import plan_mount

    ctx = _v1_context(tmp_path, RecordingSyscalls())
    init.mount_cgroup(ctx, plan_mount(Mount("/sys/fs/cgroup", "cgroup", "cgroup", ("ro", "nosuid", "nodev", "noexec"))))
    target = ctx.rootfs + "/sys/fs/cgroup"
    flags = sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
    calls = [c for c in ctx.sys.calls if c[0] != "mkdir"]
    assert calls == [
        ("mount", "tmpfs", target, "tmpfs", flags & ~sc.MS_RDONLY, "mode=755"),
        ("mount", "/sys/fs/cgroup/memory/krat/c1", target + "/memory", "", sc.MS_BIND | sc.MS_REC),
        ("mount", "/sys/fs/cgroup/pids/krat/c1", target + "/pids", "", sc.MS_BIND | sc.MS_REC),
        ("mount_setattr", target, flags, ~flags, True),   # recursive: every bind below, and the tmpfs
        ("mount", "", target, "", sc.MS_REMOUNT | flags, "mode=755")]


def test_cgroup_mount_v1_without_mount_setattr_remounts_each_bind(tmp_path):
    import errno

    from krat.oci.process import Mount
    from krat.runtime.mounts import plan_mount

    class OldKernel(RecordingSyscalls):
        def mount_setattr(self, *args, **kwargs):
            raise OSError(errno.ENOSYS, "mount_setattr")

    ctx = _v1_context(tmp_path, OldKernel())
    init.mount_cgroup(ctx, plan_mount(Mount("/sys/fs/cgroup", "cgroup", "cgroup", ("ro", "nosuid"))))
    target = ctx.rootfs + "/sys/fs/cgroup"
    remounts = [c for c in ctx.sys.calls if c[0] == "mount" and c[4] & sc.MS_REMOUNT]
    assert remounts == [("mount", "", target + "/memory", "", sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID),
                        ("mount", "", target + "/pids", "", sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID),
                        ("mount", "", target, "", sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID, "mode=755")]


def test_readonly_path_is_a_bind_made_read_only_with_its_other_flags_kept(tmp_path):
    import errno

    from krat.runtime import mounts

    rec = RecordingSyscalls()
    mounts.readonly_path(rec, str(tmp_path))
    assert rec.calls == [("mount", str(tmp_path), str(tmp_path), "", sc.MS_BIND | sc.MS_REC),
                         ("mount_setattr", str(tmp_path), sc.MS_RDONLY)]

    class OldKernel(RecordingSyscalls):
        def mount_setattr(self, *args):
            raise OSError(errno.ENOSYS, "mount_setattr")

    old = OldKernel()
    mounts.readonly_path(old, str(tmp_path))
    remount = old.calls[-1]
    assert remount[:4] == ("mount", str(tmp_path), str(tmp_path), "")
    assert remount[4] & (sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY) == sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY

    class Missing(RecordingSyscalls):
        def mount(self, source, target, *args):
            raise OSError(errno.ENOENT, "mount", target)   # the path is not there: FileNotFoundError

    gone = Missing()
    mounts.readonly_path(gone, str(tmp_path / "nope"))
    assert gone.calls == []


def test_the_ready_line_is_the_json_report_would_write():
    from krat.oci import jsoncodec as json

    assert init.READY_LINE == (json.dumps({"ready": True}) + "\n").encode()
    assert json.loads(init.READY_LINE) == {"ready": True}


def test_root_stays_root_without_the_keep_caps_dance(tmp_path):
    ctx = _context(tmp_path)
    ctx.spec = Spec.from_json({**ctx.spec.to_json(), "process": {**ctx.spec.process.to_json(),
                                                                  "user": {"uid": 0, "gid": 0}}})
    init.switch_user(ctx)
    assert ctx.sys.calls == [("set_user", 0, 0, ())]
