"""What tests/podman_net.py removes after a test's podman: netavark's iptables state as it
leaves it (chains and jump rules), but never a table or a chain that was there before."""

from podman_net import Snapshot, cleanup_script


def rule(table: str, chain: str, handle: int, jump: str | None = None) -> dict:
    expr = [{"counter": {"packets": 0, "bytes": 0}}] + ([{"jump": {"target": jump}}] if jump else [])
    return {"family": "ip", "table": table, "chain": chain, "handle": handle, "expr": expr}


NAT_BASE = {("ip", "nat", c) for c in ("PREROUTING", "OUTPUT", "POSTROUTING")}
NETAVARK_NAT = {("ip", "nat", c) for c in ("NETAVARK-HOSTPORT-DNAT", "NETAVARK-HOSTPORT-MASQ",
                                          "NETAVARK-HOSTPORT-SETMARK")}
AFTER = Snapshot(
    tables=frozenset({("ip", "nat"), ("ip", "filter"), ("ip", "krat_0123456789ab")}),
    chains=frozenset(NAT_BASE | NETAVARK_NAT | {("ip", "filter", "FORWARD"), ("ip", "filter", "NETAVARK_FORWARD"),
                                              ("ip", "krat_0123456789ab", "ports")}),
    rules=[rule("nat", "PREROUTING", 4, "NETAVARK-HOSTPORT-DNAT"), rule("nat", "OUTPUT", 5, "NETAVARK-HOSTPORT-DNAT"),
           rule("nat", "POSTROUTING", 6, "NETAVARK-HOSTPORT-MASQ"), rule("nat", "NETAVARK-HOSTPORT-MASQ", 7),
           rule("filter", "FORWARD", 8, "NETAVARK_FORWARD"), rule("krat_0123456789ab", "ports", 9)])


def test_tables_iptables_made_for_podman_go_whole():
    before = Snapshot(tables=frozenset({("ip", "krat_0123456789ab")}),
                      chains=frozenset({("ip", "krat_0123456789ab", "ports")}))
    script = cleanup_script(before, AFTER).splitlines()
    assert script[-2:] == ["delete table ip filter", "delete table ip nat"]
    assert "delete chain ip nat NETAVARK-HOSTPORT-MASQ" in script
    assert not [line for line in script if "krat_" in line]


def test_a_table_that_was_there_keeps_its_own_chains_and_rules():
    before = Snapshot(tables=frozenset({("ip", "filter"), ("ip", "krat_0123456789ab")}),
                      chains=frozenset({("ip", "filter", "FORWARD"), ("ip", "krat_0123456789ab", "ports")}))
    script = cleanup_script(before, AFTER).splitlines()
    assert "delete rule ip filter FORWARD handle 8" in script       # the jump podman added
    assert "delete chain ip filter NETAVARK_FORWARD" in script
    assert "delete table ip filter" not in script and "delete table ip nat" in script


def test_a_rule_of_someone_else_keeps_a_new_table():
    after = Snapshot(AFTER.tables, AFTER.chains | {("ip", "filter", "DOCKER-USER")},
                     rules=AFTER.rules + [rule("filter", "DOCKER-USER", 10)])
    script = cleanup_script(Snapshot(), after).splitlines()
    assert "delete table ip filter" not in script and "delete chain ip filter NETAVARK_FORWARD" in script


def test_podman_chains_that_were_there_before_stay():
    assert cleanup_script(AFTER, AFTER) == ""
