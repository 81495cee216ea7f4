"""Removing what podman's network backend left on the host after a test's podman.

Podman's backends (netavark, or CNI plugins on older setups) program the firewall through
iptables: they make tables `ip nat` / `ip filter` (iptables-nft) with chains named
`NETAVARK*` or `CNI-*` and jumps to them from the base chains, or a table `inet netavark`
(netavark's nftables driver), and bridges `podman*` / `cni-podman*`. Tearing a container
down removes its rules, but the chains, the jump rules, the tables and the bridge stay.

    before = snapshot()          # when the test's podman starts
    ...
    remove_podman_leftovers(before)

removes only objects that are podman's by name AND appeared since `before`, and only while
no podman container is attached to a podman bridge (another podman on this host may be
using the same chains). A table goes only if it did not exist before and nothing but empty
chains is left in it. krat's tables, Docker's and the host's own rules are never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

CHAIN_PREFIXES = ("NETAVARK", "CNI-")
OWN_TABLES = {("inet", "netavark")}
IPTABLES_TABLES = {"nat", "filter", "mangle", "raw"}
LINK_PREFIXES = ("podman", "cni-podman")
BUILTIN_CHAINS = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}


@dataclass(frozen=True)
class Snapshot:
    tables: frozenset = frozenset()       # {(family, table)}
    chains: frozenset = frozenset()       # {(family, table, chain)}
    links: frozenset = frozenset()
    rules: list = field(default_factory=list, compare=False)   # nft JSON "rule" objects


def snapshot() -> Snapshot:
    proc = subprocess.run(["nft", "-j", "list", "ruleset"], capture_output=True, text=True)
    items = json.loads(proc.stdout or '{"nftables": []}').get("nftables", []) if proc.returncode == 0 else []
    tables = {(i["table"]["family"], i["table"]["name"]) for i in items if "table" in i}
    chains = {(i["chain"]["family"], i["chain"]["table"], i["chain"]["name"]) for i in items if "chain" in i}
    rules = [i["rule"] for i in items if "rule" in i]
    return Snapshot(frozenset(tables), frozenset(chains), frozenset(os.listdir("/sys/class/net")), rules)


def is_podmans_chain(family: str, table: str, chain: str) -> bool:
    return table in IPTABLES_TABLES and chain.startswith(CHAIN_PREFIXES)


def podman_busy(now: Snapshot) -> bool:
    """A container is plugged into a podman bridge: its chains are in use."""
    for link in now.links:
        if link.startswith(LINK_PREFIXES):
            ports = Path(f"/sys/class/net/{link}/brif")
            if ports.is_dir() and any(ports.iterdir()):
                return True
    return False


def _targets(rule: dict) -> set[str]:
    out = set()
    for expr in rule.get("expr", []):
        for verb in ("jump", "goto"):
            if isinstance(expr, dict) and verb in expr:
                out.add(expr[verb].get("target", ""))
    return out


def cleanup_script(before: Snapshot, now: Snapshot) -> str:
    """The nft script removing podman's new chains (and the jumps to them) and the tables
    that only they brought, pure."""
    chains = {c for c in now.chains - before.chains if is_podmans_chain(*c)}
    tables = {t for t in now.tables - before.tables if t in OWN_TABLES}
    lines = []
    doomed_rules = set()
    for rule in now.rules:
        fam, tab, chain = rule["family"], rule["table"], rule["chain"]
        if (fam, tab, chain) in chains or (fam, tab) in tables:
            doomed_rules.add(id(rule))
            continue
        if any((fam, tab, target) in chains for target in _targets(rule)):
            lines.append(f"delete rule {fam} {tab} {chain} handle {rule['handle']}")
            doomed_rules.add(id(rule))
    lines += [f"flush chain {fam} {tab} {chain}" for fam, tab, chain in sorted(chains) if (fam, tab) not in tables]
    lines += [f"delete chain {fam} {tab} {chain}" for fam, tab, chain in sorted(chains) if (fam, tab) not in tables]
    for fam, tab in sorted(now.tables - before.tables):
        if (fam, tab) in tables or tab not in IPTABLES_TABLES:
            continue
        others = {c[2] for c in now.chains if c[:2] == (fam, tab)} - {c[2] for c in chains}
        rules = [r for r in now.rules if (r["family"], r["table"]) == (fam, tab) and id(r) not in doomed_rules]
        if others <= BUILTIN_CHAINS and not rules:
            tables.add((fam, tab))  # iptables made it when podman first used it; nothing else is in it
    lines += [f"delete table {fam} {tab}" for fam, tab in sorted(tables)]
    return "".join(line + "\n" for line in lines)


def remove_podman_leftovers(before: Snapshot) -> str:
    """Remove what podman made since `before`; returns a description of what could not be."""
    now = snapshot()
    if podman_busy(now):
        return "a podman container is running: its network state is left alone"
    problems = []
    for link in sorted(now.links - before.links):
        if link.startswith(LINK_PREFIXES):
            proc = subprocess.run(["ip", "link", "del", link], capture_output=True, text=True)
            if proc.returncode:
                problems.append(f"ip link del {link}: {proc.stderr.strip()}")
    script = cleanup_script(before, now)
    if script:
        proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True)
        if proc.returncode:
            problems.append(f"nft: {proc.stderr.strip()}")
    return "; ".join(problems)


CNI_STATE = Path("/var/lib/cni")


def cni_state() -> frozenset:
    """What the CNI plugins' state folder holds (host-local keeps addresses per network)."""
    if not CNI_STATE.is_dir():
        return frozenset()
    return frozenset(str(p.relative_to(CNI_STATE)) for p in CNI_STATE.glob("*/*")) | {"."}


def remove_cni_state(before: frozenset, network_dir: Path) -> None:
    """Address files of the networks defined in `network_dir` (a podman's private one), and
    the state folders if CNI made them for that podman."""
    import shutil

    names = set()
    for conf in network_dir.glob("*.conflist") if network_dir.is_dir() else ():
        try:
            names.add(json.loads(conf.read_text())["name"])
        except (OSError, ValueError, KeyError):
            continue
    for name in names:
        if f"networks/{name}" not in before:
            shutil.rmtree(CNI_STATE / "networks" / name, ignore_errors=True)
    if "." not in before:
        for folder in (CNI_STATE / "networks", CNI_STATE / "results", CNI_STATE):
            try:
                folder.rmdir()  # only if empty: another podman may be using it meanwhile
            except OSError:
                pass
