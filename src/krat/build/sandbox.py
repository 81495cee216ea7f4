"""Running one RUN step: an OCI bundle over an overlay rootfs, through krat's runtime.

The config.json comes from the engine's one spec generator (krat.engine.ocigen), as
for `krat run`: Docker's 14 capabilities, masked and read-only paths, default mounts
and seccomp profile, the user resolved from the image's /etc/passwd. `--network=none`
gets its own network namespace; `default`/`host` share the host's (as BuildKit's
default worker does) with the host's resolv.conf. The process runs in-process through
krat.runtime (no monitor: a build step is neither listed nor restarted) and its output
comes through a pipe, as it is written. Mount points the runtime had to create for
bind mounts are removed from the upper directory so they do not land in the layer.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from pathlib import Path

from krat.build.backend import Output, RunSpec
from krat.build.fsview import LayerView

HOSTNAME = "buildkitsandbox"
# Stages may run RUN steps from several threads; container creation forks, so forks
# happen one at a time (a fork copies only its own thread; keep the others quiet).
FORK_LOCK = threading.Lock()
ETC_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/hostname")


def bind_targets(spec: RunSpec) -> list[str]:
    return [m.target for m in spec.mounts if m.type == "bind"] + list(ETC_FILES)


def _etc_files(spec: RunSpec, work: Path) -> tuple[tuple[str, str], ...]:
    hosts = f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    if spec.network != "none" and os.path.exists("/etc/hosts"):
        hosts = Path("/etc/hosts").read_text() + f"127.0.1.1\t{HOSTNAME}\n"
    files = {"hosts": hosts, "hostname": HOSTNAME + "\n", "resolv.conf": ""}
    if spec.network != "none" and os.path.exists("/etc/resolv.conf"):
        files["resolv.conf"] = Path("/etc/resolv.conf").read_text()
    for name, text in files.items():
        (work / name).write_text(text)
    return tuple((f"/etc/{name}", str(work / name)) for name in ("resolv.conf", "hosts", "hostname"))


def runtime_config(spec: RunSpec, rootfs: Path, container_id: str, work: Path) -> dict:
    """config.json of a build step, made by the engine's generator (the same as `krat run`)."""
    from krat.engine import bundle, ocigen
    from krat.engine.spec import ContainerSpec, Mount

    mounts = tuple(Mount("tmpfs", m.target, options=("exec",)) if m.type == "tmpfs"
                   else Mount("bind", m.target, m.source, rw=not m.readonly) for m in spec.mounts)
    container = ContainerSpec(image="", entrypoint=tuple(spec.argv), env=tuple(spec.env),
                              working_dir=spec.cwd or "/", user=spec.user, hostname=HOSTNAME,
                              network_mode="none" if spec.network == "none" else "host", mounts=mounts)
    ctx = ocigen.RunContext(
        container_id=container_id, rootfs=str(rootfs), user=bundle.resolve_user(str(rootfs), spec.user),
        cgroups_path=f"/krat-build/{container_id}", etc_files=_etc_files(spec, work),
        host_caps=bundle.host_capabilities(), host_hostname=socket.gethostname(),
        cgroup_v2=bundle.cgroup_v2(), swap_accounting=bundle.swap_accounting())
    return ocigen.generate(container, {}, ctx)


def container_prefix(storage_root: "str | os.PathLike[str]") -> str:
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
    (work / "container-id").write_text(container_id)  # for the cleanup of a build that gets killed
    with FORK_LOCK:  # may fork for long option strings
        mount_overlay(lowers, rootfs, upper, overlay_work)
    try:
        os.makedirs(rootfs / cwd.lstrip("/"), exist_ok=True)
        config = runtime_config(spec, rootfs, container_id, work)
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
        with FORK_LOCK:
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


def forget_container(container_id: str, state_root: Path) -> None:
    """Kill and delete a build container whose build died (no error if it is gone)."""
    from krat import runtime
    from krat.errors import KratError

    try:
        runtime.delete(container_id, force=True, state_root=str(state_root))
    except (KratError, OSError):
        pass


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
