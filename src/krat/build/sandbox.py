"""Running one RUN step: an OCI bundle over an overlay rootfs, through krat's runtime.

The container gets Docker's defaults (its 14 capabilities, masked and read-only
paths, default seccomp profile); `--network=none` gets its own network namespace,
`default`/`host` share the host's (as BuildKit's default worker does) with the
host's resolv.conf and hosts. Output goes through a pipe to the caller, line by
line as it comes. Mount points the runtime had to create for bind mounts are
removed from the upper directory afterwards so they do not land in the layer.

TODO(engine): when the container engine offers a one-off run over a given rootfs
(`ContainerService`), call it here so RUN and `krat run` share one spec generator.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from krat.build.backend import Output, RunSpec
from krat.build.copy import parse_chown
from krat.build.fsview import LayerView

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
MASKED = ["/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
          "/sys/devices/virtual/powercap", "/sys/firmware"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
HOSTNAME = "buildkitsandbox"


def _base_mounts() -> list[dict]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
    ]


def bind_targets(spec: RunSpec) -> list[str]:
    targets = [m.target for m in spec.mounts if m.type == "bind"]
    if spec.network != "none":
        targets += ["/etc/resolv.conf", "/etc/hosts"]
    return targets


def runtime_config(spec: RunSpec, rootfs: Path, view: LayerView, cgroup: str) -> dict:
    """The config.json of a build step (pure)."""
    from krat.engine.profiles import default_seccomp

    uid, gid = parse_chown(spec.user, view, "USER") if spec.user else (0, 0)
    mounts = _base_mounts()
    for m in spec.mounts:
        if m.type == "tmpfs":
            mounts.append({"destination": m.target, "type": "tmpfs", "source": "tmpfs",
                           "options": ["nosuid", "nodev", "mode=1777"]})
        else:
            opts = ["rbind", "ro" if m.readonly else "rw"]
            mounts.append({"destination": m.target, "type": "bind", "source": m.source, "options": opts})
    namespaces = ["pid", "ipc", "uts", "mount"]
    if spec.network == "none":
        namespaces.append("network")
    else:
        for name in ("/etc/resolv.conf", "/etc/hosts"):
            if os.path.exists(name):
                mounts.append({"destination": name, "type": "bind", "source": name, "options": ["rbind", "ro"]})
    env = list(spec.env)
    if not any(e.startswith("HOSTNAME=") for e in env):
        env.append(f"HOSTNAME={HOSTNAME}")
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": uid, "gid": gid}, "args": list(spec.argv), "env": env,
            "cwd": spec.cwd or "/",
            "capabilities": {s: list(DOCKER_CAPS) for s in ("bounding", "effective", "permitted")},
        },
        "root": {"path": str(rootfs), "readonly": False},
        "hostname": HOSTNAME,
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": t} for t in namespaces],
            "cgroupsPath": cgroup,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "maskedPaths": list(MASKED),
            "readonlyPaths": list(READONLY),
            "seccomp": default_seccomp(DOCKER_CAPS),
        },
    }


def container_prefix(storage_root: Path) -> str:
    """Build containers are named per storage root, so concurrent krat roots never mix them up."""
    import hashlib

    return "krat-build-" + hashlib.sha256(str(storage_root).encode()).hexdigest()[:8]


def run_step(lowers: list[Path], upper: Path, work: Path, spec: RunSpec, output: Output, state_root: Path,
             prefix: str = "krat-build") -> int:
    """Mount, run, unmount; returns the exit code. Leaves no mount, container or cgroup."""
    from krat import runtime
    from krat.store.snapshots import mount_overlay, unmount

    bundle = work / "bundle"
    rootfs = bundle / "rootfs"
    overlay_work = work / "overlay-work"
    for d in (rootfs, overlay_work):
        d.mkdir(parents=True)
    view = LayerView([*lowers, upper])
    existing = {t for t in bind_targets(spec) if view.exists(view.resolve(t, follow_last=False))}
    cwd = view.resolve(spec.cwd or "/")
    container_id = f"{prefix}-{uuid.uuid4().hex[:12]}"
    mount_overlay(lowers, rootfs, upper, overlay_work)
    try:
        os.makedirs(rootfs / cwd.lstrip("/"), exist_ok=True)
        config = runtime_config(spec, rootfs, view, f"krat-build/{container_id}")
        (bundle / "config.json").write_text(json.dumps(config))
        return _run_container(runtime, container_id, bundle, state_root, output)
    finally:
        unmount(rootfs)
        _drop_created_mountpoints(upper, bind_targets(spec), existing)


def _run_container(runtime, container_id: str, bundle: Path, state_root: Path, output: Output) -> int:
    state_root.mkdir(parents=True, exist_ok=True)
    read_fd, write_fd = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    created = False
    try:
        pid = runtime.create(container_id, str(bundle), str(state_root), stdio=(null, write_fd, write_fd))
        created = True
        os.close(write_fd)
        write_fd = -1
        runtime.start(container_id, str(state_root))
        while chunk := os.read(read_fd, 65536):
            output(chunk)
        return runtime.wait(pid)
    finally:
        for fd in (read_fd, write_fd, null):
            if fd >= 0:
                os.close(fd)
        if created:
            runtime.delete(container_id, force=True, state_root=str(state_root))


def _drop_created_mountpoints(upper: Path, targets: list[str], existing: set[str]) -> None:
    for target in targets:
        if target in existing:
            continue
        path = upper / target.lstrip("/")
        try:
            if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
            elif path.is_file() and path.stat().st_size == 0:
                path.unlink()
        except OSError:
            pass
        parent = path.parent
        while parent != upper and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
