"""Bridge devices and veth pairs, through iproute2 batches (`ip -batch -`).

One `ip` process per side (host, container namespace) configures everything for a
container: about 3 ms each, against ~350 ms for importing pyroute2 (DESIGN.md, Speed).

Names are unique per host: the bridge is `kr-<network id[:10]>`, a host-side veth
`kv<container id[:6]><random 4 hex>` (15 characters at most, IFNAMSIZ-1).
"""

from __future__ import annotations

import ipaddress
import os

from krat.errors import Internal, Unavailable
from krat.net import netns
from krat.net.netns import run
from krat.oci.records import record

DEFAULT_MTU = 1500
CONTAINER_IFNAME = "eth0"


def bridge_name(network_id: str) -> str:
    return f"kr-{network_id[:10]}"


def veth_name(container_id: str) -> str:
    return f"kv{container_id[:6]}{os.urandom(2).hex()}"


@record(frozen=True)
class Interface:
    """One container interface: where it plugs in and what it gets."""

    bridge: str
    host_veth: str
    ifname: str
    address: str        # 10.88.0.2
    prefixlen: int
    mac: str
    gateway: str | None  # None: no default route (internal networks, or not the first interface)
    mtu: int = DEFAULT_MTU


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def ensure_bridge(name: str, gateway: str, prefixlen: int, mtu: int = DEFAULT_MTU, nft_script: str = "",
                  nft_again: str = "") -> bool:
    """Create and bring up a bridge with the gateway address; False if it already existed.

    `nft_script` (the network's rules, which name the bridge but do not need it to exist)
    runs at the same time, saving one process's latency on a network's first container;
    if it fails, `nft_again` runs instead (a script only right on a clean host first)."""
    if link_exists(name):
        return False
    script = (f"link add {name} mtu {mtu} type bridge\n"
              f"addr add {gateway}/{prefixlen} dev {name}\n"
              f"link set {name} up\n")
    nft = _start_nft(nft_script)
    try:
        run(["ip", "-batch", "-"], input=script, what=f"create bridge {name}")
    except Internal:
        delete_link(name)
        raise
    finally:
        _finish_nft(nft, nft_script, f"rules of {name}", nft_again)
    # Published ports reached via 127.0.0.1 are routed out of the bridge with a loopback
    # source (then masqueraded); the kernel drops such "martians" unless route_localnet is on.
    _sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")
    _sysctl("net/ipv4/ip_forward", "1")
    return True


def _sysctl(key: str, value: str) -> None:
    path = os.path.join("/proc/sys", key)
    try:
        with open(path) as f:
            current = f.read()
        if current.strip() != value:
            with open(path, "w") as f:
                f.write(value)
    except OSError as err:
        raise Internal(f"cannot set sysctl {key.replace('/', '.')}={value}: {err.strerror}") from err


def delete_link(name: str) -> None:
    if link_exists(name):
        try:
            run(["ip", "link", "del", name], what=f"delete link {name}")
        except Internal:
            if link_exists(name):
                raise


def unplug(names: list[str]) -> netns.Tool:
    """Start taking veths out of their bridge and down (one `ip` exec, ~2 ms; the caller goes
    on, and waits for the returned tool before it is done): their device goes later, with its
    namespace, in the kernel's namespace worker, which handles one batch after the other and
    so takes 1 ms or 50 when containers end one after another; meanwhile the device is inert,
    and the bridge has already forgotten the MAC address behind it (the next container may
    get the same address, and with it the same MAC). Failures are not errors: a veth gone
    already (its namespace went first) has nothing left to unplug."""
    script = "".join(f"link set {name} down\nlink set {name} nomaster\n" for name in names)
    return netns.Tool(["ip", "-force", "-batch", "-"], input=script, what="unplug veths")


def delete_with(name: str, nft_script: str) -> None:
    """Delete a bridge and run an nft script at the same time: removing a netdevice waits
    on the kernel (RCU, ~30 ms) and nft need not wait for it."""
    nft = _start_nft(nft_script)
    try:
        delete_link(name)
    finally:
        _finish_nft(nft, nft_script, f"rules of {name}")


def _start_nft(script: str):
    import subprocess

    if not script:
        return None
    return subprocess.Popen(["nft", "-f", "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _finish_nft(proc, script: str, what: str, again: str = "") -> None:
    if proc is None:
        return
    _, err = proc.communicate(script)
    if proc.returncode and again:
        run(["nft", "-f", "-"], input=again, what=f"nft on the {what}")
    elif proc.returncode:
        raise Internal(f"nft failed on the {what}: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")


def attach(ns_path: str, iface: Interface, first: bool = True) -> None:
    """Create a veth pair, plug the host end into the bridge, configure the container end."""
    host, inside = _scripts(ns_path, iface, first)
    try:
        run(["ip", "-batch", "-"], input=host, what=f"create veth {iface.host_veth}")
        run(netns.exec_argv(ns_path, ["ip", "-batch", "-"]), input=inside,
            what=f"configure {iface.ifname} in {os.path.basename(ns_path)}")
    except Internal:
        delete_link(iface.host_veth)
        raise


class PendingPlug:
    """A veth being plugged in by a background shell (`attach_started`): the host's batch, then
    the namespace's. `wait` returns once both are done and raises (having deleted the veth)
    if either failed; `cancel` does the same without raising."""

    def __init__(self, tool: netns.Tool, iface: Interface) -> None:
        self.tool, self.iface, self.done = tool, iface, False

    def wait(self) -> None:
        if self.done:
            return
        self.done = True
        code, _, err = self.tool.wait()
        if code == 127:
            raise Unavailable(f"ip or nsenter is not installed (needed to plug {self.iface.host_veth} "
                              f"into {self.iface.bridge}): {err.strip()}")
        if code != 0:
            delete_link(self.iface.host_veth)
            lines = err.strip().splitlines()
            raise Internal(f"plug {self.iface.host_veth} into {self.iface.bridge} failed: "
                           f"{lines[-1] if lines else f'exit {code}'}")

    def cancel(self) -> None:
        try:
            self.wait()
        except Internal:
            pass


def attach_started(ns_path: str, iface: Interface) -> PendingPlug:
    """attach() for the first interface of a namespace that already has `lo` up, in a background
    shell: the caller goes on (the runtime creates the container meanwhile) and must `wait`
    before the container starts. Same two `ip` batches as attach()."""
    host, inside = _scripts(ns_path, iface, first=False)
    enter = " ".join(_quote(a) for a in netns.exec_argv(ns_path, ["ip", "-batch", "-"]))
    script = f"ip -batch - <<'EOF'\n{host}EOF\n{enter} <<'EOF'\n{inside}EOF\n"
    return PendingPlug(netns.Tool(["sh", "-e", "-c", script], what="plugging veths in"), iface)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def _scripts(ns_path: str, iface: Interface, first: bool) -> tuple[str, str]:
    """The `ip -batch` scripts that plug `iface` in: (host's, the namespace's)."""
    host = (f"link add {iface.host_veth} mtu {iface.mtu} type veth peer name {iface.ifname} "
            f"mtu {iface.mtu} address {iface.mac} netns {ns_path}\n"
            f"link set {iface.host_veth} master {iface.bridge}\n"
            # hairpin: a container reaching its own published port comes back the same port
            f"link set {iface.host_veth} type bridge_slave hairpin on\n"
            f"link set {iface.host_veth} up\n")
    inside = ("link set lo up\n" if first else "") + (
        f"addr add {iface.address}/{iface.prefixlen} dev {iface.ifname}\n"
        f"link set {iface.ifname} up\n")
    if iface.gateway:
        inside += f"route add default via {iface.gateway} dev {iface.ifname} onlink\n"
    return host, inside


def loopback_up(ns_path: str) -> None:
    run(netns.exec_argv(ns_path, ["ip", "link", "set", "lo", "up"]), what="bring up lo")


def host_routes() -> list[ipaddress.IPv4Network]:
    """IPv4 destinations routed on the host (minus default), to keep new subnets clear."""
    out = run(["ip", "-4", "route", "show", "table", "all"], what="list routes")
    nets = []
    for line in out.splitlines():
        words = line.split()
        if not words:
            continue
        dest = words[1] if words[0] in ("local", "broadcast", "unicast", "throw", "unreachable") else words[0]
        if dest == "default" or "dev" in words and words[words.index("dev") + 1] == "lo":
            continue
        try:
            nets.append(ipaddress.ip_network(dest, strict=False))
        except ValueError:
            continue
    return nets
