import ipaddress

import pytest

from krat.errors import Conflict, InvalidArgument
from krat.net import dns, ipam

A = ipaddress.IPv4Address
N = ipaddress.IPv4Network


def test_allocate_skips_gateway_and_used():
    subnet = N("10.89.3.0/24")
    assert ipam.allocate(subnet, []) == A("10.89.3.2")
    assert ipam.allocate(subnet, [A("10.89.3.2"), A("10.89.3.3")]) == A("10.89.3.3") + 1


def test_allocate_full_subnet_is_a_conflict():
    subnet = N("10.89.3.0/30")  # .1 gateway, .2 the only host
    with pytest.raises(Conflict, match="no free address"):
        ipam.allocate(subnet, [A("10.89.3.1"), A("10.89.3.2")])


def test_released_address_is_reused():
    subnet = N("10.89.3.0/24")
    used = {A("10.89.3.2"), A("10.89.3.3"), A("10.89.3.4")}
    used.discard(A("10.89.3.3"))
    assert ipam.allocate(subnet, used) == A("10.89.3.3")


def test_choose_subnet_default_then_pool():
    assert ipam.choose_subnet([], default_network=True) == N("10.88.0.0/16")
    assert ipam.choose_subnet([N("10.88.0.0/16")], default_network=True) == N("10.89.0.0/24")
    assert ipam.choose_subnet([N("10.89.0.0/24"), N("10.89.1.0/24")]) == N("10.89.2.0/24")
    assert ipam.choose_subnet([N("10.89.0.0/16")]) == N("10.90.0.0/24")


@pytest.mark.parametrize("text,fragment", [
    ("10.5.0.1/16", "host bits"), ("nonsense", "expected CIDR"), ("fd00::/64", "IPv4"), ("10.0.0.0/31", "too small")])
def test_parse_subnet_rejects(text, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        ipam.parse_subnet(text)


def test_ip_outside_subnet():
    with pytest.raises(InvalidArgument, match="not a usable address of subnet 10.89.0.0/24"):
        ipam.check_in_subnet(A("10.90.0.5"), N("10.89.0.0/24"), "--ip")
    with pytest.raises(InvalidArgument):
        ipam.check_in_subnet(A("10.89.0.255"), N("10.89.0.0/24"), "--ip")


def test_mac():
    assert ipam.mac_for(A("172.17.0.2")) == "02:42:ac:11:00:02"
    assert ipam.parse_mac("02:42:AC:11:00:02") == "02:42:ac:11:00:02"
    for bad in ("01:00:00:00:00:01", "zz:00:00:00:00:00", "02:42"):
        with pytest.raises(InvalidArgument):
            ipam.parse_mac(bad)


def test_hosts_file():
    text = dns.hosts_file("abc123", ["10.88.0.2"], [dns.parse_add_host("db:10.0.0.9"),
                                                     dns.parse_add_host("gw:host-gateway")],
                          gateway="10.88.0.1", aliases=["web"])
    assert text.startswith("127.0.0.1\tlocalhost\n")
    assert "10.0.0.9\tdb\n" in text and "10.88.0.1\tgw\n" in text
    assert text.endswith("10.88.0.2\tabc123 web\n")


def test_add_host_rejects():
    for bad in ("nocolon", "x:notanip", ":1.2.3.4"):
        with pytest.raises(InvalidArgument):
            dns.parse_add_host(bad)


def test_resolv_conf_variants():
    host = dns.parse_resolv_conf("# c\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nsearch lan\noptions edns0\n")
    assert host.nameservers == ("127.0.0.53", "10.255.255.53")
    assert dns.container_resolv_conf(host) == "nameserver 10.255.255.53\nsearch lan\noptions edns0\n"
    assert dns.container_resolv_conf(host, dns=["1.1.1.1"]).startswith("nameserver 1.1.1.1\n")
    embedded = dns.container_resolv_conf(host, embedded="10.89.0.1")
    assert embedded == "nameserver 10.89.0.1\nsearch lan\noptions ndots:0 edns0\n"
    only_loopback = dns.parse_resolv_conf("nameserver 127.0.0.53\n")
    assert "nameserver 8.8.8.8" in dns.container_resolv_conf(only_loopback)
