"""Which conntrack entries a UDP publish deletes (the pure part of krat.net.conntrack)."""

from krat.net.conntrack import Flow, parse_flows, stale
from krat.net.ports import PortMapping

LISTING = """\
udp      17 27 src=127.0.0.1 dst=127.0.0.1 sport=40001 dport=5300 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 \
sport=5300 dport=40001 mark=0 use=1
udp      17 110 src=10.0.0.7 dst=192.0.2.53 sport=41000 dport=5300 src=192.0.2.53 dst=10.0.0.7 sport=5300 \
dport=41000 [ASSURED] mark=0 use=1
udp      17 29 src=10.88.0.2 dst=10.88.0.1 sport=33333 dport=53 src=10.88.0.1 dst=10.88.0.2 sport=53 \
dport=33333 mark=0 use=1
tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=50000 dport=5300 src=127.0.0.1 dst=127.0.0.1 \
sport=5300 dport=50000 [ASSURED] mark=0 use=1
garbage line
"""


def test_parse_takes_the_original_direction():
    flows = parse_flows(LISTING)
    assert flows[0] == Flow("127.0.0.1", "127.0.0.1", 40001, 5300)
    assert flows[1] == Flow("10.0.0.7", "192.0.2.53", 41000, 5300)
    assert len(flows) == 4  # the tcp line parses too; stale() keeps to what the caller listed (udp)


def test_stale_flows_go_to_a_published_udp_port_on_a_local_address():
    flows = parse_flows(LISTING)[:3]
    local = {"127.0.0.1", "10.88.0.1"}.__contains__
    any_address = [PortMapping(5300, "udp", "", 5300), PortMapping(80, "tcp", "", 53)]
    assert stale(flows, any_address, local) == [flows[0]]  # 192.0.2.53 is another host: its flow stays
    on_loopback = [PortMapping(5300, "udp", "127.0.0.1", 5300)]
    assert stale(flows, on_loopback, lambda ip: True) == [flows[0]]
    assert stale(flows, [PortMapping(53, "udp", "10.88.0.1", 53)], local) == [flows[2]]
    assert stale(flows, [PortMapping(5300, "tcp", "", 5300)], local) == []
