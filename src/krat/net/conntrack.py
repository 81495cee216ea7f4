"""Forgetting stale UDP flows when a UDP port is published (conntrack-tools' `conntrack`).

The kernel decides NAT on a flow's first packet only. A UDP "flow" to host port P that
began before P's DNAT rule existed (a client retrying against nothing, or one that talked
to the previous container on that port) stays in the connection-tracking table with its
old destination for as long as packets keep arriving (UDP entries expire 30 s after the
last one, 120 s once answered), so a client that keeps its source port never reaches the
new container. Docker and Podman delete such entries when they publish a UDP port; krat
does the same for entries whose original destination is a published port on a local
address. TCP needs nothing: a new connection is a new flow.

Only `run`s that publish UDP ports import this module (and run `conntrack`).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from krat.errors import Internal, Unavailable
from krat.net.netns import run
from krat.net.ports import PortMapping


@dataclass(frozen=True)
class Flow:
    """A conntrack entry's original direction."""

    src: str
    dst: str
    sport: int
    dport: int


def parse_flows(listing: str) -> list[Flow]:
    """`conntrack -L -p udp` lines -> their original tuples, pure (the first src/dst/sport/dport
    of a line are the original direction, the second the reply)."""
    flows = []
    for line in listing.splitlines():
        fields: dict[str, str] = {}
        for word in line.split():
            key, eq, value = word.partition("=")
            if eq and key in ("src", "dst", "sport", "dport") and key not in fields:
                fields[key] = value
        if len(fields) == 4 and fields["sport"].isdigit() and fields["dport"].isdigit():
            flows.append(Flow(fields["src"], fields["dst"], int(fields["sport"]), int(fields["dport"])))
    return flows


def stale(flows: Iterable[Flow], mappings: Iterable[PortMapping], is_local: Callable[[str], bool]) -> list[Flow]:
    """The flows that the new DNAT rules would have caught had they existed: to a published
    UDP port, on the mapping's host address (any local address when it has none), pure."""
    published: dict[int, set[str]] = {}
    for m in mappings:
        if m.proto == "udp":
            published.setdefault(m.host_port, set()).add(m.host_ip)
    out = []
    for flow in flows:
        hosts = published.get(flow.dport)
        if hosts and (flow.dst in hosts or ("" in hosts and is_local(flow.dst))):
            out.append(flow)
    return out


def is_local_address(ip: str) -> bool:
    """An address of this host (the DNAT rules match `fib daddr type local`): bind succeeds."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((ip, 0))
        except OSError:
            return False
    return True


def flush_udp(mappings: Iterable[PortMapping]) -> int:
    """Delete stale entries of these published UDP ports; returns how many. A missing or
    failing `conntrack` is a warning, not an error: new flows are NATed all the same."""
    mappings = [m for m in mappings if m.proto == "udp"]
    if not mappings:
        return 0
    try:
        listing = run(["conntrack", "-L", "-p", "udp"], what="list UDP conntrack entries")
    except (Unavailable, Internal) as err:
        sys.stderr.write(f"krat: warning: {err.message}; UDP clients that already sent to a published port "
                         "may not reach the container until their flow expires\n")
        return 0
    deleted = 0
    for flow in stale(parse_flows(listing), mappings, is_local_address):
        try:
            run(["conntrack", "-D", "-p", "udp", "-s", flow.src, "-d", flow.dst, "--sport", str(flow.sport),
                 "--dport", str(flow.dport)], what="delete a stale UDP flow")
            deleted += 1
        except Internal:
            continue  # it expired (or another krat deleted it) since the listing
    return deleted
