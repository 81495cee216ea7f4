"""VolumeService: named and anonymous volumes (local driver), and a container's mounts.

A volume is a directory `<root>/volumes/<name>/_data` and a row. The engine calls:

    vols = VolumeService(db, paths)
    vols.prepare(cid, requests, volumes_from=[other_cid[:ro]], image_volumes=[...])  # create
    mounts = vols.oci_mounts(cid, rootfs, uid, gid)   # start: fills new volumes, returns config.json mounts
    vols.release(cid, remove_anonymous=rm_v)           # rm

`prepare` validates everything and creates missing volumes, or creates nothing.
With `--opt type=... --opt device=... --opt o=...` the local driver mounts that file
system on `_data` at first use (as `mount -t TYPE -o O DEVICE`), unmounted on removal.
"""

from __future__ import annotations

import time
import os

from krat.db import volumes as rows
from krat.errors import Conflict, Internal, InvalidArgument, NotFound
from krat.runtime.trees import remove_tree  # not shutil: it loads bz2 and lzma

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.db import Database
    from krat.engine.config import Paths
    from krat.engine.mountspec import MountRequest

# krat.engine.mountspec loads where a container has mounts (not on a plain `krat run`).

DRIVER_OPTIONS = ("type", "device", "o")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # time, not datetime: ~1 ms of `run`


class VolumeService:
    def __init__(self, db: "Database", paths: "Paths") -> None:
        self.db = db
        self.paths = paths

    def mountpoint(self, name: str) -> str:
        return os.path.join(self.paths.volumes, name, "_data")

    # -- volumes -----------------------------------------------------------------------

    def create(self, name: str | None = None, labels: dict | None = None, options: dict | None = None,
               driver: str = "local") -> rows.VolumeRecord:
        """Create a volume; an existing name is returned as is (Docker's behaviour)."""
        if driver != "local":
            raise InvalidArgument(f"volume driver {driver!r} is not supported (only local)")
        for key in options or {}:
            if key not in DRIVER_OPTIONS:
                raise InvalidArgument(f"invalid volume option {key!r}: the local driver takes type, device and o")
        from krat.engine.mountspec import check_volume_name

        anonymous = name is None
        name = os.urandom(32).hex() if name is None else check_volume_name(name)
        existing = rows.get(self.db, name)
        if existing is not None:
            return existing
        rec = rows.VolumeRecord(name, "local", anonymous, dict(labels or {}), dict(options or {}), now())
        data = self.mountpoint(name)
        os.makedirs(data, exist_ok=True)
        try:
            rows.insert(self.db, rec)
        except Exception:
            if rows.get(self.db, name) is None:
                remove_tree(os.path.dirname(data))
                raise
        return rows.get(self.db, name)

    def get(self, name: str) -> rows.VolumeRecord:
        rec = rows.get(self.db, name)
        if rec is None:
            raise NotFound(f"no such volume: {name}")
        return rec

    def list(self) -> list[rows.VolumeRecord]:
        return rows.list_all(self.db)

    def inspect(self, name: str) -> dict:
        rec = self.get(name)
        labels = dict(rec.labels)
        if rec.anonymous:
            labels.setdefault("com.docker.volume.anonymous", "")
        return {"CreatedAt": rec.created_at, "Driver": rec.driver, "Labels": labels,
                "Mountpoint": self.mountpoint(name), "Name": rec.name, "Options": rec.options or None,
                "Scope": "local"}

    def in_use(self, name: str) -> bool:
        return bool(rows.users(self.db, name))

    def remove(self, name: str, force: bool = False) -> None:
        rec = self.get(name)
        users = rows.users(self.db, name)
        if users:
            raise Conflict(f"volume {name} is in use by container(s) {', '.join(u[:12] for u in users)}")
        self._unmount(rec)
        rows.delete(self.db, name)
        remove_tree(os.path.join(self.paths.volumes, name))

    def prune(self, all_volumes: bool = False) -> tuple[list[str], int]:
        """Unused volumes: anonymous ones only unless `all_volumes` (Docker >= 23)."""
        removed, reclaimed = [], 0
        for rec in rows.unused(self.db):
            if not (rec.anonymous or all_volumes):
                continue
            reclaimed += _du(self.mountpoint(rec.name))
            try:
                self.remove(rec.name)
            except Conflict:
                continue
            removed.append(rec.name)
        return removed, reclaimed

    def _mount_driver(self, rec: rows.VolumeRecord) -> None:
        opts = rec.options
        if not opts.get("type") and not opts.get("device"):
            return
        data = self.mountpoint(rec.name)
        if _is_mountpoint(data):
            return
        argv = ["mount", "-t", opts.get("type") or "none"]
        if opts.get("o"):
            argv += ["-o", opts["o"]]
        argv += [opts.get("device") or "none", data]
        import subprocess  # only volumes with a driver mount: not on `krat run`'s path

        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode:
            raise Internal(f"cannot mount volume {rec.name}: {proc.stderr.strip() or proc.returncode}")

    def _unmount(self, rec: rows.VolumeRecord) -> None:
        import subprocess

        data = self.mountpoint(rec.name)
        while _is_mountpoint(data):
            if subprocess.run(["umount", "-l", data], capture_output=True).returncode:
                break

    # -- a container's mounts ---------------------------------------------------------

    def prepare(self, cid: str, requests: list[MountRequest], volumes_from: list[str] = (),
                image_volumes: list[str] = ()) -> list[dict]:
        """Validate and record a container's mounts; creates missing volumes (all or none)."""
        plan = self._plan(requests, volumes_from, image_volumes)
        created = []
        try:
            for item in plan:
                if item["type"] == "volume":
                    fresh = item["source"] == "" or rows.get(self.db, item["source"]) is None
                    rec = self.create(item["source"] or None)
                    item["source"], item["anonymous"] = rec.name, rec.anonymous
                    if fresh:
                        created.append(rec.name)
            with self.db.transaction():
                rows.save_mounts(self.db, cid, plan)
                for item in plan:
                    if item["type"] == "volume":
                        rows.add_user(self.db, item["source"], cid)
        except BaseException:
            rows.forget_mounts(self.db, cid)
            for name in created:
                self.remove(name)
            raise
        return plan

    def _plan(self, requests: list[MountRequest], volumes_from: list[str], image_volumes: list[str]) -> list[dict]:
        plan: dict[str, dict] = {}
        for ref in volumes_from:
            other, _, mode = ref.partition(":")
            if mode not in ("", "ro", "rw"):
                raise InvalidArgument(f"invalid --volumes-from {ref!r}: mode must be ro or rw")
            for item in rows.mounts_of(self.db, other):
                if item["type"] != "tmpfs":
                    plan[item["target"]] = dict(item, readonly=item["readonly"] if not mode else mode == "ro",
                                                given=f"--volumes-from {ref}")
        seen: set[str] = set()
        for req in requests:
            if req.target in seen:
                raise InvalidArgument(f"duplicate mount point: {req.target}")
            seen.add(req.target)
            if req.type == "bind" and not os.path.exists(req.source):
                raise InvalidArgument(f"invalid mount config for type \"bind\": bind source path does not exist: "
                                      f"{req.source}")
            plan[req.target] = dict(req.to_dict(), anonymous=False)
        if image_volumes:
            from krat.engine.mountspec import MountRequest
        for target in image_volumes:
            target = target.rstrip("/") or "/"
            if target not in plan:
                plan[target] = dict(MountRequest("volume", target).to_dict(), anonymous=True)
        return list(plan.values())

    def oci_mounts(self, cid: str, rootfs: str | None = None, uid: int = 0, gid: int = 0) -> list[dict]:
        """config.json mounts; fills empty new volumes from the image and applies `:U`."""
        out = []
        items = rows.mounts_of(self.db, cid)
        if items:
            from krat.engine.mountspec import MountRequest
        for item in items:
            req = MountRequest.from_dict({k: v for k, v in item.items() if k != "anonymous"})
            if req.type == "tmpfs":
                out.append(_tmpfs(req))
                continue
            source = req.source
            if req.type == "volume":
                rec = self.get(source)
                self._mount_driver(rec)
                source = self.mountpoint(source)
                if not req.nocopy and rootfs is not None:
                    populate(source, rootfs, req.target)
            if req.chown:
                import subprocess

                subprocess.run(["chown", "-R", f"{uid}:{gid}", source], check=True, capture_output=True)
            options = ["rbind", req.propagation] + (["ro"] if req.readonly else [])
            out.append({"destination": req.target, "type": "bind", "source": source, "options": options})
        return out

    def release(self, cid: str, remove_anonymous: bool = False) -> list[str]:
        """`rm`: forget the container's mounts; with `-v` remove its anonymous volumes."""
        anonymous = [v.name for v in rows.volumes_of(self.db, cid) if v.anonymous]
        rows.forget_mounts(self.db, cid)
        removed = []
        if remove_anonymous:
            for name in anonymous:
                if not rows.users(self.db, name):
                    self.remove(name)
                    removed.append(name)
        return removed

    def inspect_mounts(self, cid: str) -> list[dict]:
        out = []
        for item in rows.mounts_of(self.db, cid):
            kind = item["type"]
            entry = {"Type": kind, "Source": "", "Destination": item["target"], "Mode": "", "RW": not item["readonly"],
                     "Propagation": ""}
            if kind == "volume":
                entry.update(Name=item["source"], Source=self.mountpoint(item["source"]), Driver="local",
                             Mode="z")
            elif kind == "bind":
                entry.update(Source=item["source"], Propagation=item["propagation"])
            out.append(entry)
        return out

    def host_config(self, cid: str) -> dict:
        """Docker's HostConfig.Binds (the -v flags as typed, but anonymous volumes),
        VolumesFrom, and Mounts (--mount's, a key only when there are some)."""
        binds, mounts, volumes_from = [], [], []
        for item in rows.mounts_of(self.db, cid):
            given = item.get("given", "")
            if given.startswith("--volumes-from ") and given[15:] not in volumes_from:
                volumes_from.append(given[15:])
            elif given.startswith("-v ") and not item.get("anonymous"):
                binds.append(given[3:])
            elif given == "--mount":
                entry = {"Type": item["type"], "Source": item["source"], "Target": item["target"]}
                if item["readonly"]:
                    entry["ReadOnly"] = True
                mounts.append(entry)
        return {"Binds": binds or None, "VolumesFrom": volumes_from or None, **({"Mounts": mounts} if mounts else {})}

    def mounts_requests(self, cid: str) -> list[MountRequest]:
        from krat.engine.mountspec import MountRequest

        return [MountRequest.from_dict({k: v for k, v in i.items() if k != "anonymous"})
                for i in rows.mounts_of(self.db, cid)]


def populate(volume: str, rootfs: str, target: str) -> bool:
    """Fill an empty volume with the image's content at `target` (Docker's copy-up)."""
    if os.listdir(volume):
        return False
    root = os.path.realpath(rootfs)
    source = os.path.realpath(os.path.join(root, target.lstrip("/")))
    # A symlink in the image must not make us copy from the host.
    if not (source == root or source.startswith(root + "/")) or not os.path.isdir(source):
        return False
    import subprocess

    proc = subprocess.run(["cp", "-a", "--", source + "/.", volume + "/"], capture_output=True, text=True)
    if proc.returncode:
        name = os.path.basename(os.path.dirname(volume))
        raise Internal(f"cannot fill volume {name} from the image: {proc.stderr.strip()}")
    return True


def _tmpfs(req: MountRequest) -> dict:
    options = ["nosuid", "nodev", "noexec"]
    if req.tmpfs_size:
        options.append(f"size={req.tmpfs_size}")
    options.append(f"mode={req.tmpfs_mode:o}" if req.tmpfs_mode is not None else "mode=1777")
    if req.readonly:
        options.append("ro")
    return {"destination": req.target, "type": "tmpfs", "source": "tmpfs", "options": options}


def _is_mountpoint(path: str) -> bool:
    try:
        return any(line.split()[1] == str(path) for line in open("/proc/self/mounts"))
    except OSError:
        return False


def _du(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total

