"""NAT, isolation and published ports with nftables (the `nft` CLI).

Why nftables and not iptables: each krat network owns one whole table
(`ip krat_<network id[:12]>`), so removing a network is one `delete table` that cannot
miss a rule or touch anyone else's (Docker's, another krat root's, the admin's); a
change is one atomic `nft -f -` transaction; and a port range is one rule
(`tcp dport 8000-8999 dnat to 10.88.0.2`), not a rule per port plus a proxy per port.

A network's table:
- `prerouting`/`output` (nat): traffic to a local address jumps to `ports`, where each
  published port is a DNAT rule commented `c=<container id>` (removed by handle).
- `postrouting` (nat): masquerade the subnet going anywhere but its own bridge
  (outbound NAT; absent on `--internal` networks); masquerade loopback-sourced traffic
  leaving through the bridge (127.0.0.1:PORT works, with route_localnet, see bridge.py);
  masquerade DNATed traffic from the subnet back into it (hairpin).
- `forward` (filter): drop traffic from this bridge to another krat bridge unless it was
  DNATed to a published port (isolation between networks, as Docker); on `--internal`
  networks drop everything crossing the bridge's boundary.

The host's own iptables FORWARD policy still applies: if another tool set it to DROP,
krat's containers lose outbound traffic (see README).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from krat.net.netns import run
from krat.net.ports import PortMapping, groups
from krat.oci.records import record

TABLE_PREFIX = "krat_"


def table_name(network_id: str) -> str:
    return f"{TABLE_PREFIX}{network_id[:12]}"


@record(frozen=True)
class NetworkRules:
    table: str
    bridge: str
    subnet: str
    internal: bool = False


def render_network(rules: NetworkRules, fresh: bool = False) -> str:
    """The nft script (re)creating a network's table, pure. fresh: only creating it, failing
    (and changing nothing) if it exists: removing a table, even one the same script has just
    added, costs the kernel an RCU grace period (~10 ms) that a network's bring-up need not
    pay when no killed krat left its table behind."""
    b, s = f'"{rules.bridge}"', rules.subnet
    post = [f"oifname {b} ip saddr 127.0.0.0/8 masquerade",
            f"oifname {b} ct status dnat ip saddr {s} masquerade"]
    forward = [f'iifname {b} oifname "kr-*" oifname != {b} ct status ! dnat drop']
    if rules.internal:
        forward += [f"iifname {b} oifname != {b} drop", f"oifname {b} iifname != {b} drop"]
    else:
        post.insert(0, f"ip saddr {s} oifname != {b} masquerade")
    start = [f"create table ip {rules.table}"] if fresh else [f"add table ip {rules.table}",
                                                               f"delete table ip {rules.table}"]
    return "\n".join([
        *start,
        f"table ip {rules.table} {{",
        "  chain ports { }",
        "  chain prerouting { type nat hook prerouting priority -100; policy accept;"
        " fib daddr type local jump ports; }",
        "  chain output { type nat hook output priority -100; policy accept;"
        " fib daddr type local jump ports; }",
        "  chain postrouting { type nat hook postrouting priority 100; policy accept;",
        *[f"    {line}" for line in post],
        "  }",
        "  chain forward { type filter hook forward priority 0; policy accept;",
        *[f"    {line}" for line in forward],
        "  }",
        "}",
        "",
    ])


def render_ports(table: str, owner: str, container_ip: str, mappings: Iterable[PortMapping]) -> str:
    """DNAT rules for one container's published ports, pure; equal ranges are one rule."""
    lines = []
    for first, count in groups(mappings):
        match = f"ip daddr {first.host_ip} " if first.host_ip else ""
        if first.host_port == first.container_port:
            span = f"{first.host_port}-{first.host_port + count - 1}" if count > 1 else str(first.host_port)
            lines.append(f"{match}{first.proto} dport {span} dnat to {container_ip}")
        else:
            for i in range(count):
                lines.append(f"{match}{first.proto} dport {first.host_port + i} "
                             f"dnat to {container_ip}:{first.container_port + i}")
    return "".join(f'add rule ip {table} ports {line} comment "c={owner}"\n' for line in lines)


def render_dns_redirect(table: str, bridge: str, gateway: str, port: int | None) -> str:
    """Send the containers' DNS queries to the gateway's port 53 on to `port`, where the
    network's responder listens when a host DNS server holds 0.0.0.0:53 (None: no
    redirect), pure. Its own chain, ahead of published ports (priority -110 < -100): a
    container publishing port 53 on the host must not take its network's DNS queries."""
    lines = [f"add chain ip {table} dns {{ type nat hook prerouting priority -110; policy accept; }}",
             f"flush chain ip {table} dns"]
    if port is not None:
        lines += [f'add rule ip {table} dns iifname "{bridge}" ip daddr {gateway} {proto} dport 53 '
                  f"dnat to {gateway}:{port}" for proto in ("udp", "tcp")]
    return "".join(line + "\n" for line in lines)


def redirect_dns(table: str, bridge: str, gateway: str, port: int | None) -> None:
    run(["nft", "-f", "-"], input=render_dns_redirect(table, bridge, gateway, port),
        what=f"redirect DNS of {bridge}")


def setup_network(rules: NetworkRules) -> None:
    run(["nft", "-f", "-"], input=render_network(rules), what=f"create nftables table {rules.table}")


def teardown_script(table: str) -> str:
    """The nft script removing a network's table (idempotent: add, then delete)."""
    return f"add table ip {table}\ndelete table ip {table}\n"


def teardown_network(table: str) -> None:
    run(["nft", "-f", "-"], input=teardown_script(table), what=f"delete nftables table {table}")


def publish(table: str, owner: str, container_ip: str, mappings: Iterable[PortMapping]) -> None:
    script = render_ports(table, owner, container_ip, mappings)
    if script:
        run(["nft", "-f", "-"], input=script, what="publish ports")


def rule_owners(listing: str) -> set[str]:
    """The containers (`c=<id>` comments) with rules in `nft -j list chain` output, pure."""
    doc = json.loads(listing or '{"nftables": []}')
    return {item["rule"]["comment"][2:] for item in doc.get("nftables", [])
            if "rule" in item and str(item["rule"].get("comment", "")).startswith("c=")}


def port_owners(table: str) -> set[str]:
    """Containers with published-port rules in a network's table (none if it is missing)."""
    if not table_exists(table):
        return set()
    return rule_owners(run(["nft", "-j", "list", "chain", "ip", table, "ports"], what="list published ports"))


def owned_handles(listing: str, owner: str) -> list[int]:
    """Handles of the rules commented `c=<owner>` in `nft -j -a list chain` output, pure."""
    doc = json.loads(listing or '{"nftables": []}')
    tag = f"c={owner}"
    return [item["rule"]["handle"] for item in doc.get("nftables", [])
            if "rule" in item and item["rule"].get("comment") == tag]


def unpublish(table: str, owner: str) -> None:
    """Remove exactly the rules of one container; a missing table means nothing to do."""
    if not table_exists(table):
        return
    listing = run(["nft", "-j", "-a", "list", "chain", "ip", table, "ports"], what="list published ports")
    handles = owned_handles(listing, owner)
    if handles:
        script = "".join(f"delete rule ip {table} ports handle {h}\n" for h in handles)
        run(["nft", "-f", "-"], input=script, what="unpublish ports")


def table_exists(table: str) -> bool:
    out = run(["nft", "list", "tables", "ip"], what="list nftables tables")
    return f"table ip {table}" in out.splitlines()


def list_table(table: str) -> str:
    return run(["nft", "list", "table", "ip", table], what="list nftables table") if table_exists(table) else ""
