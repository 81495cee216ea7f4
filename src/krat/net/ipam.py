"""IP address management, pure: choose subnets and addresses given what is already used.

krat's address plan (IPv4; chosen to stay clear of Docker's 172.17.0.0/16.. pools and
of the common 192.168.0.0/16 home networks):

- the default `bridge` network takes 10.88.0.0/16 (Podman uses the same range for its
  default network, and the two never run their default bridges side by side usefully);
- user networks created without `--subnet` take the first free /24 from
  10.89.0.0/16 .. 10.99.0.0/16 (2816 networks; a /24 holds 253 containers);
- when 10.88.0.0/16 is taken on the host (another engine, another krat root), the default
  network falls back to the user pool as well.

In a subnet, the first usable address is the gateway (the bridge's address) unless
`--gateway` says otherwise; the network and broadcast addresses are never handed out.
Callers pass the set of used addresses read inside a database transaction; a UNIQUE
constraint on (network, address) makes concurrent allocations safe.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from krat.errors import Conflict, InvalidArgument

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address

DEFAULT_BRIDGE_SUBNET = IPv4Network("10.88.0.0/16")
USER_POOL = tuple(IPv4Network(f"10.{n}.0.0/16") for n in range(89, 100))
USER_PREFIX = 24


def parse_subnet(text: str) -> IPv4Network:
    """'10.5.0.0/16' -> network; host bits set is an error, as in Docker."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid subnet {text!r}: expected CIDR such as 10.5.0.0/16") from None
    if net.version != 4:
        raise InvalidArgument(f"invalid subnet {text!r}: only IPv4 subnets are supported")
    if str(net.network_address) != text.split("/")[0]:
        raise InvalidArgument(f"invalid subnet {text!r}: host bits are set (did you mean {net}?)")
    if net.prefixlen > 30:
        raise InvalidArgument(f"invalid subnet {text!r}: too small, at most /30")
    return net


def parse_address(text: str, what: str = "IP address") -> IPv4Address:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what} {text!r}") from None
    if addr.version != 4:
        raise InvalidArgument(f"invalid {what} {text!r}: only IPv4 is supported")
    return addr


def check_in_subnet(addr: IPv4Address, subnet: IPv4Network, what: str) -> None:
    if addr not in subnet or addr in (subnet.network_address, subnet.broadcast_address):
        raise InvalidArgument(f"{what} {addr} is not a usable address of subnet {subnet}")


def default_gateway(subnet: IPv4Network) -> IPv4Address:
    return subnet.network_address + 1


def candidate_subnets(default_network: bool) -> Iterator[IPv4Network]:
    if default_network:
        yield DEFAULT_BRIDGE_SUBNET
    for pool in USER_POOL:
        yield from pool.subnets(new_prefix=USER_PREFIX)


def overlapping(subnet: IPv4Network, taken: Iterable[IPv4Network]) -> IPv4Network | None:
    for other in taken:
        if subnet.overlaps(other):
            return other
    return None


def choose_subnet(taken: Iterable[IPv4Network], default_network: bool = False) -> IPv4Network:
    """The first candidate subnet overlapping none of `taken` (krat's networks and host routes)."""
    taken = list(taken)
    for subnet in candidate_subnets(default_network):
        if overlapping(subnet, taken) is None:
            return subnet
    raise Conflict("no free subnet left in krat's address pools; pass --subnet")


def allocate(subnet: IPv4Network, used: Iterable[IPv4Address], start: int = 2) -> IPv4Address:
    """The lowest free host address of `subnet` from offset `start` (after the gateway)."""
    used_set = set(used)
    first = int(subnet.network_address) + start
    last = int(subnet.broadcast_address) - 1
    for value in range(first, last + 1):
        addr = IPv4Address(value)
        if addr not in used_set:
            return addr
    # Wrap around below `start` (a --gateway placed higher leaves low addresses free).
    for value in range(int(subnet.network_address) + 1, first):
        addr = IPv4Address(value)
        if addr not in used_set:
            return addr
    raise Conflict(f"no free address left in subnet {subnet}")


def mac_for(addr: IPv4Address) -> str:
    """Docker's scheme: 02:42 + the four address bytes, so a MAC follows its IP."""
    return "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)


def parse_mac(text: str) -> str:
    parts = text.lower().split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
        raise InvalidArgument(f"invalid MAC address {text!r}: expected six hex pairs like 02:42:0a:58:00:02")
    if int(parts[0], 16) & 1:
        raise InvalidArgument(f"invalid MAC address {text!r}: a multicast address cannot be assigned")
    return ":".join(parts)
