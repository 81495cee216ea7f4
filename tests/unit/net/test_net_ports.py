import random

import pytest

from krat.errors import Conflict, InvalidArgument
from krat.net import firewall
from krat.net.ports import (PortMapping, PublishRequest, format_port_lines, format_ps, overlaps,
                            parse_publish, publish_all, resolve)


@pytest.mark.parametrize("text,expected", [
    ("80", PublishRequest("", 0, 0, 80, 80, "tcp")),
    ("8080:80", PublishRequest("", 8080, 8080, 80, 80, "tcp")),
    ("127.0.0.1:8080:80/udp", PublishRequest("127.0.0.1", 8080, 8080, 80, 80, "udp")),
    ("127.0.0.1::80", PublishRequest("127.0.0.1", 0, 0, 80, 80, "tcp")),
    ("0.0.0.0:53:53/UDP", PublishRequest("", 53, 53, 53, 53, "udp")),
    ("8000-8999:8000-8999", PublishRequest("", 8000, 8999, 8000, 8999, "tcp")),
    ("9000-9010:80", PublishRequest("", 9000, 9010, 80, 80, "tcp")),
])
def test_parse_publish(text, expected):
    assert parse_publish(text) == expected


@pytest.mark.parametrize("text,fragment", [
    ("99999:80", "hostPort: 99999"),
    ("abc", "containerPort: 'abc'"),
    ("80:0", "containerPort: 0"),
    ("8080:80/icmp", "protocol"),
    ("nope:8080:80", "host IP"),
    ("8000-8001:80-82", "differ in length"),
    ("[::1]:80:80", "IPv6"),
])
def test_parse_publish_rejects(text, fragment):
    with pytest.raises(InvalidArgument) as err:
        parse_publish(text)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_resolve_explicit_range_and_random():
    reqs = [parse_publish("8000-8002:8000-8002"), parse_publish("53/udp")]
    out = resolve(reqs, lambda ip, port, proto: True, random.Random(1))
    assert [m.host_port for m in out[:3]] == [8000, 8001, 8002]
    assert out[3].container_port == 53 and out[3].proto == "udp" and 49153 <= out[3].host_port <= 60999


def test_resolve_port_in_use_is_a_conflict():
    with pytest.raises(Conflict, match="0.0.0.0:8080/tcp"):
        resolve([parse_publish("8080:80")], lambda ip, port, proto: port != 8080)


def test_resolve_host_range_picks_first_free():
    out = resolve([parse_publish("9000-9010:80")], lambda ip, port, proto: port > 9003)
    assert out == [PortMapping(80, "tcp", "", 9004)]


def test_random_ports_do_not_repeat():
    out = resolve([parse_publish("1-50")], lambda ip, port, proto: True, random.Random(3))
    assert len({m.host_port for m in out}) == 50


def test_publish_all_from_exposed():
    assert publish_all({"80/tcp": {}, "53/udp": {}}) == [
        PublishRequest("", 0, 0, 53, 53, "udp"), PublishRequest("", 0, 0, 80, 80, "tcp")]


def test_format_ps_groups_ranges_and_lists_exposed():
    maps = [PortMapping(p, "tcp", "", p) for p in (8000, 8001, 8002)] + [PortMapping(80, "tcp", "127.0.0.1", 8080)]
    assert format_ps(maps, ["443/tcp"]) == \
        "127.0.0.1:8080->80/tcp, 443/tcp, 0.0.0.0:8000-8002->8000-8002/tcp"
    assert format_port_lines([PortMapping(80, "tcp", "", 8080)]) == ["80/tcp -> 0.0.0.0:8080"]


def test_overlaps():
    a = PortMapping(80, "tcp", "", 8080)
    assert overlaps(a, PortMapping(81, "tcp", "127.0.0.1", 8080))
    assert not overlaps(a, PortMapping(80, "udp", "", 8080))
    assert not overlaps(PortMapping(80, "tcp", "127.0.0.1", 8080), PortMapping(80, "tcp", "127.0.0.2", 8080))


def test_a_thousand_port_range_is_one_rule():
    maps = [PortMapping(p, "tcp", "", p) for p in range(8000, 9000)]
    script = firewall.render_ports("krat_x", "cid", "10.88.0.2", maps)
    assert script == 'add rule ip krat_x ports tcp dport 8000-8999 dnat to 10.88.0.2 comment "c=cid"\n'


def test_shifted_ports_render_one_rule_each():
    maps = [PortMapping(80, "tcp", "127.0.0.1", 8080), PortMapping(53, "udp", "", 5353)]
    script = firewall.render_ports("t", "c", "10.0.0.2", maps)
    assert "ip daddr 127.0.0.1 tcp dport 8080 dnat to 10.0.0.2:80" in script
    assert "udp dport 5353 dnat to 10.0.0.2:53" in script


def test_internal_network_has_no_masquerade_out():
    rules = firewall.NetworkRules("krat_a", "kr-a", "10.89.0.0/24", internal=True)
    script = firewall.render_network(rules)
    assert "oifname != \"kr-a\" masquerade" not in script
    assert 'iifname "kr-a" oifname != "kr-a" drop' in script
    assert 'ip saddr 10.89.0.0/24 oifname != "kr-a" masquerade' in firewall.render_network(
        firewall.NetworkRules("krat_a", "kr-a", "10.89.0.0/24"))


def test_owned_handles_picks_only_the_owner():
    listing = ('{"nftables": [{"chain": {"name": "ports"}}, {"rule": {"handle": 4, "comment": "c=a"}},'
               ' {"rule": {"handle": 5, "comment": "c=b"}}, {"rule": {"handle": 6, "comment": "c=a"}}]}')
    assert firewall.owned_handles(listing, "a") == [4, 6]


def test_rootless_attach_is_a_private_namespace_or_a_clear_refusal(tmp_path, monkeypatch):
    from pathlib import Path

    from krat.db import open_database
    from krat.engine.config import Paths
    from krat.engine.networks import NetworkingRequest, NetworkService
    from krat.errors import Unavailable

    monkeypatch.setattr(Paths, "rootless", property(lambda self: True))
    paths = Paths(str(tmp_path / "root"), str(tmp_path / "run"))
    svc = NetworkService(open_database(paths.db), paths)
    svc.configure("a" * 64, "a", NetworkingRequest("none"))
    att = svc.attach("a" * 64, "a")
    assert att.oci_namespace() == {"type": "network"}
    assert Path(att.hosts_path).read_text().startswith("127.0.0.1\tlocalhost")
    svc.configure("b" * 64, "b", NetworkingRequest())
    with pytest.raises(Unavailable, match="needs root"):
        svc.attach("b" * 64, "b")


def test_a_fresh_network_table_is_created_not_replaced():
    """Bring-up creates (and fails on an existing table: the retry replaces it); replacing
    always would cost a kernel grace period for the delete."""
    rules = firewall.NetworkRules("krat_a", "kr-a", "10.89.0.0/24")
    fresh, again = firewall.render_network(rules, fresh=True), firewall.render_network(rules)
    assert fresh.splitlines()[0] == "create table ip krat_a" and "delete table" not in fresh
    assert again.splitlines()[:2] == ["add table ip krat_a", "delete table ip krat_a"]
    assert fresh.splitlines()[1:] == again.splitlines()[2:]


def test_port_bindings_are_the_flags_as_asked():
    from krat.net.ports import port_bindings

    assert port_bindings(["127.0.0.1:8080:80", "90", "7000-7001:70-71/udp", "0.0.0.0:9000-9009:99"]) == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
        "90/tcp": [{"HostIp": "", "HostPort": ""}],
        "70/udp": [{"HostIp": "", "HostPort": "7000"}], "71/udp": [{"HostIp": "", "HostPort": "7001"}],
        "99/tcp": [{"HostIp": "", "HostPort": "9000-9009"}]}
    assert port_bindings(["8080:80", "8081:80"]) == {"80/tcp": [{"HostIp": "", "HostPort": "8080"},
                                                                {"HostIp": "", "HostPort": "8081"}]}
    assert port_bindings([]) == {}
