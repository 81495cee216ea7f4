"""Preparing a container's bundle for a start: the acting half around ocigen.

Finds what ocigen must not look up itself (the user in the image's /etc/passwd, host
device numbers, other containers' namespaces, host capabilities, cgroup flavour),
mounts the root filesystem, writes /etc/hosts, hostname and resolv.conf, and writes
config.json. Files inside the rootfs are resolved without leaving it (symlinks in an
image are hostile until checked).
"""

from __future__ import annotations

import os

from krat.engine import ocigen
from krat.engine.names import cgroups_path  # noqa: F401  (re-exported: callers import it from here)
from krat.engine.ocigen import HostDevice, ProcessUser, RunContext
from krat.engine.spec import ContainerSpec
from krat.errors import InvalidArgument, NotFound
from krat.oci.records import record
from krat.runtime.files import read_file


@record(frozen=True)
class NetworkAttachment:
    """What a network attach step provides (the network area's seam): joined netns and files."""

    netns_path: str = ""                            # "" = a new namespace (loopback only)
    hosts_entries: tuple[tuple[str, str], ...] = ()  # (ip, names) lines for /etc/hosts
    resolv_conf: str | None = None                   # None = derived from the host's


CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup_root(runtime: str = "") -> str:
    """The hierarchy root of the container's cgroup: krat's runtime honours $KRAT_CGROUP2_ROOT
    (a cgroup2 directory, for hybrid hosts and tests); other runtimes pick their own."""
    if os.environ.get("KRAT_CGROUP2_ROOT") and os.path.basename(runtime or "krat") in ("krat", "krat-runtime"):
        from krat.runtime.cgroups import configured_root

        return configured_root()
    return CGROUP_ROOT


def cgroup_v2(root: str = CGROUP_ROOT) -> bool:
    return os.path.exists(f"{root}/cgroup.controllers")


def cgroup_dir(container_id: str, controller: str, root: str = CGROUP_ROOT) -> str:
    """The container's directory for `controller` (v1), or its one directory (v2)."""
    rel = cgroups_path(container_id).lstrip("/")
    return f"{root}/{rel}" if cgroup_v2(root) else f"{root}/{controller}/{rel}"


def memory_cgroup_dir(container_id: str, root: str = CGROUP_ROOT) -> str:
    return cgroup_dir(container_id, "memory", root)


def host_capabilities() -> tuple[str, ...]:
    """The capabilities of our bounding set (CapBnd of /proc/self/status), by name."""
    fd = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)  # bytes, one read: not a text file's
    try:                                                             # line iterator (~0.1 ms a start)
        status = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    at = status.find(b"\nCapBnd:")
    if at < 0:
        return ocigen.ALL_CAPS
    mask = int(status[at + 8:status.index(b"\n", at + 1)], 16)
    return tuple(c for i, c in enumerate(ocigen.ALL_CAPS) if mask >> i & 1)


def swap_accounting(root: str = CGROUP_ROOT) -> bool:
    return cgroup_v2(root) or os.path.exists(f"{root}/memory/memory.memsw.limit_in_bytes")


def thermal_throttle_paths() -> tuple[str, ...]:
    base = "/sys/devices/system/cpu"
    out = []
    try:
        for name in sorted(os.listdir(base)):
            path = f"{base}/{name}/thermal_throttle"
            if name.startswith("cpu") and name[3:].isdigit() and os.path.isdir(path):
                out.append(path)
    except OSError:
        pass
    return tuple(out)


# --- files inside the rootfs ---------------------------------------------------------------

def resolve_in_root(root: str, path: str, depth: int = 0) -> str:
    """The host path of `path` inside `root`, following symlinks as if root were '/'."""
    if depth > 40:
        raise InvalidArgument(f"too many levels of symbolic links resolving {path}")
    parts = [p for p in path.split("/") if p and p != "."]
    current = ""
    for i, part in enumerate(parts):
        if part == "..":
            current = current.rsplit("/", 1)[0] if "/" in current else ""
            continue
        candidate = f"{current}/{part}"
        host = root + candidate
        if os.path.islink(host):
            target = os.readlink(host)
            base = "" if target.startswith("/") else current
            rest = "/".join(parts[i + 1:])
            return resolve_in_root(root, f"{base}/{target}/{rest}", depth + 1)
        current = candidate
    return root + (current or "/")


def read_in_root(root: str, path: str) -> str:
    try:
        return read_file(resolve_in_root(root, path)).decode("utf-8", "replace")
    except OSError:
        return ""


def _entries(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(rootfs: str, user: str) -> ProcessUser:
    """Docker's rules: name|uid[:group|gid]; names from the image's /etc/passwd and /etc/group."""
    name, _, group = (user or "0").partition(":")
    passwd = _entries(read_in_root(rootfs, "/etc/passwd"))
    groups = _entries(read_in_root(rootfs, "/etc/group"))
    entry = next((e for e in passwd if len(e) >= 4 and (e[0] == name or e[2] == name)), None)
    if entry is not None:
        uid, gid, login = int(entry[2]), int(entry[3]), entry[0]
    elif name.isdigit():
        uid, gid, login = int(name), 0, ""
    else:
        raise InvalidArgument(f"unable to find user {name}: no matching entries in passwd file")
    if group:
        g = next((e for e in groups if len(e) >= 3 and (e[0] == group or e[2] == group)), None)
        if g is not None:
            gid = int(g[2])
        elif group.isdigit():
            gid = int(group)
        else:
            raise InvalidArgument(f"unable to find group {group}: no matching entries in group file")
    extra = tuple(sorted({int(e[2]) for e in groups if len(e) >= 4 and login and login in e[3].split(",")
                          and e[2].isdigit() and int(e[2]) != gid}))
    return ProcessUser(uid, gid, extra)


# --- host-side files ------------------------------------------------------------------------

def hosts_file(hostname: str, extra_hosts: tuple[tuple[str, str], ...], net: NetworkAttachment) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
             "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters"]
    lines += [f"{ip}\t{host}" for host, ip in extra_hosts]
    lines += [f"{ip}\t{names}" for ip, names in net.hosts_entries]
    return "\n".join(lines) + "\n"


def resolv_conf(net: NetworkAttachment, as_is: bool = False) -> str:
    """The container's resolv.conf: the network step's, else the host's without loopback
    nameservers; as_is (`--network none`, which reaches no resolver at all): the host's file
    unchanged, as the network area's own copy for such a container has it."""
    if net.resolv_conf is not None:
        return net.resolv_conf
    try:
        text = _read("/etc/resolv.conf")
    except OSError:
        text = ""
    if as_is:
        return text
    # A nameserver on the host's loopback is unreachable from the container's namespace.
    kept = [ln for ln in text.splitlines()
            if not (ln.startswith("nameserver") and (" 127." in ln or " ::1" in ln))]
    return "\n".join(kept).strip() + "\n"


def write_file(path: str, text: str) -> None:
    """Replace path's content atomically (a temporary file renamed over it); a file that does
    not exist yet (a new container's) is written in place: every start writes these files
    again before anything reads them, so a torn first write is replaced, and the rename
    (~0.07 ms of ext4 each) is saved."""
    data = text.encode("utf-8", "surrogateescape")  # what _read decoded, byte for byte
    if _write_new(path, data):
        return
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _write_new(path: str, data: bytes) -> bool:
    """Write a file that must not exist yet (O_EXCL); False when it does. os.open/os.write:
    3 system calls and no file object, where open(path, "x") makes 6 and a text layer."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        return False
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    return True


def _read(path: str) -> str:
    """A host file's text as open(path).read() has it (newlines translated); bytes that are
    not UTF-8 survive the trip through write_file unchanged."""
    data = read_file(path)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data.decode("utf-8", "surrogateescape")


def resolve_devices(spec: ContainerSpec) -> tuple[HostDevice, ...]:
    import stat

    out = []
    for d in spec.devices:
        try:
            st = os.stat(d.path_on_host)
        except OSError as err:
            raise InvalidArgument(f"error gathering device information for {d.path_on_host}: {err.strerror}") from None
        if stat.S_ISCHR(st.st_mode):
            kind = "c"
        elif stat.S_ISBLK(st.st_mode):
            kind = "b"
        else:
            raise InvalidArgument(f"{d.path_on_host} is not a device")
        out.append(HostDevice(d.path_in_container, kind, os.major(st.st_rdev), os.minor(st.st_rdev),
                              stat.S_IMODE(st.st_mode), d.permissions))
    return tuple(out)


# Not device nodes to copy: the container gets its own devpts, shm and mqueue, its console is
# its terminal, and /dev/ptmx must stay the link to its own pts/ptmx (as runc skips them).
HOST_DEV_SKIP = frozenset({"/dev/pts", "/dev/shm", "/dev/fd", "/dev/mqueue", "/dev/console", "/dev/ptmx",
                           "/dev/.lxc", "/dev/.lxd-mounts", "/dev/.udev"})


def host_devices(top: str = "/dev") -> tuple[HostDevice, ...]:
    """Every character and block device node below /dev (not following symlinks), for --privileged."""
    import stat

    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if os.path.join(dirpath, d) not in HOST_DEV_SKIP)
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if path in HOST_DEV_SKIP:
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue  # gone meanwhile
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                out.append(HostDevice(path, "c" if stat.S_ISCHR(st.st_mode) else "b", os.major(st.st_rdev),
                                      os.minor(st.st_rdev), stat.S_IMODE(st.st_mode), "rwm", st.st_uid, st.st_gid))
    return tuple(out)


def build_context(container_id: str, spec: ContainerSpec, rootfs: str, storage: str,
                  namespace_paths: tuple[tuple[str, str], ...], net: NetworkAttachment,
                  image_user: str) -> RunContext:
    """Everything ocigen needs, found on this host now; writes the /etc files."""
    user = resolve_user(rootfs, spec.user or image_user)
    root = cgroup_root(spec.runtime)
    if spec.init and not os.path.exists("/usr/bin/tini-static"):
        raise NotFound("--init needs /usr/bin/tini-static (Debian package tini)")
    console_size = None
    if spec.tty:
        from krat.engine.attach import terminal_size

        console_size = terminal_size()
    ctx = RunContext(container_id=container_id, rootfs=rootfs, user=user, console_size=console_size,
                     cgroups_path=cgroups_path(container_id), namespace_paths=namespace_paths,
                     devices=resolve_devices(spec), host_caps=host_capabilities(),
                     host_devices=host_devices() if spec.security.privileged else (),
                     host_hostname=os.uname().nodename, extra_masked=thermal_throttle_paths(),
                     cgroup_v2=cgroup_v2(root), swap_accounting=swap_accounting(root))
    hostname = ocigen.hostname_for(spec, ctx)
    files = {"hostname": hostname + "\n", "hosts": hosts_file(hostname, spec.extra_hosts, net),
             "resolv.conf": resolv_conf(net, as_is=spec.network_mode == "none")}
    if spec.network_mode == "host":
        files["hosts"] = (_read("/etc/hosts") if os.path.exists("/etc/hosts") else files["hosts"])
    for name, text in files.items():
        write_file(os.path.join(storage, name), text)
    etc = (("/etc/resolv.conf", os.path.join(storage, "resolv.conf")),
           ("/etc/hostname", os.path.join(storage, "hostname")), ("/etc/hosts", os.path.join(storage, "hosts")))
    return RunContext(**{**ctx.__dict__, "etc_files": etc})


def write_config(bundle: str, document: dict) -> None:
    """config.json, compact: json.dumps with indent runs the pure-Python encoder (~0.5 ms a
    start for a document no one reads by eye; `python -m json.tool` shows it indented)."""
    from krat.oci import jsoncodec

    try:  # one mkdir (EEXIST: the start made it) where makedirs adds a stat
        os.mkdir(bundle)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(bundle, exist_ok=True)
    text = jsoncodec.dumps(document)
    if _write_new(f"{bundle}/config.json", text.encode()):  # a new bundle's: in place (see write_file)
        return  # the monitor reads it after "go"
    tmp = f"{bundle}/config.json.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, f"{bundle}/config.json")


def plug(document: dict, namespace: dict | None, mounts: list[dict]) -> None:
    """Put what the network and volume step made into config.json (pure, in place):
    its network namespace entry (None: the host's), and its mounts, which replace the
    engine's own /etc/hosts and /etc/resolv.conf when it brings its own."""
    linux = document["linux"]
    spaces = [ns for ns in linux["namespaces"] if ns["type"] != "network"]
    if namespace is not None:
        spaces.insert(1, namespace)
    linux["namespaces"] = spaces
    theirs = {m["destination"] for m in mounts}
    document["mounts"] = [m for m in document["mounts"] if m["destination"] not in theirs] + list(mounts)


ELF_MACHINES = {3: "386", 62: "amd64", 40: "arm", 183: "arm64", 8: "mips", 20: "ppc", 21: "ppc64le",
                22: "s390x", 243: "riscv64"}


def diagnose(rootfs: str, args: list[str], env: list[str]) -> str:
    """Why args[0] cannot be executed in rootfs, in words Docker does not give ('' if unknown):
    the missing path, a script whose interpreter is missing or ends in CRLF, another architecture."""
    prog = args[0] if args else ""
    path = prog
    if "/" not in prog:
        dirs = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/local/bin:/usr/bin:/bin").split(":")
        path = next((f"{d}/{prog}" for d in dirs if os.path.isfile(resolve_in_root(rootfs, f"{d}/{prog}"))), "")
        if not path:
            return f"{prog}: executable file not found in $PATH ({':'.join(dirs)}) of the container"
    host = resolve_in_root(rootfs, path)
    if not os.path.exists(host):
        return f"{path}: no such file or directory in the container"
    if os.path.isdir(host):
        return f"{path}: is a directory, not a program"
    try:
        with open(host, "rb") as f:
            head = f.read(256)
    except OSError as err:
        return f"{path}: {err.strerror}"
    if head.startswith(b"#!"):
        line = head[2:].split(b"\n", 1)[0]
        if line.endswith(b"\r"):
            return f"{path}: the script has Windows (CRLF) line endings; its interpreter line reads {line.decode(errors='replace')!r}"
        interp = line.strip().split(b" ", 1)[0].decode(errors="replace")
        if interp and not os.path.exists(resolve_in_root(rootfs, interp)):
            return f"{path}: the script's interpreter {interp} does not exist in the container"
    elif head.startswith(b"\x7fELF") and len(head) >= 20:
        machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
        here = {"x86_64": 62, "aarch64": 183, "armv7l": 40, "i686": 3, "s390x": 22, "ppc64le": 21,
                "riscv64": 243}.get(os.uname().machine)
        if here is not None and machine != here and not (here == 62 and machine == 3):
            return (f"{path}: the program is built for {ELF_MACHINES.get(machine, f'machine {machine}')}, "
                    f"this host runs {os.uname().machine}")
    elif not os.access(host, os.X_OK):
        return f"{path}: permission denied (the file is not executable)"
    return ""
