"""The nft script that sends a network's DNS queries to a responder off port 53."""

from krat.net.firewall import render_dns_redirect


def test_redirect_both_protocols_from_the_bridge_only():
    script = render_dns_redirect("krat_0123456789ab", "kr-0123456789", "10.89.0.1", 40053).splitlines()
    assert script[0] == ("add chain ip krat_0123456789ab dns { type nat hook prerouting priority -110;"
                         " policy accept; }")
    assert script[1] == "flush chain ip krat_0123456789ab dns"
    assert script[2:] == [f'add rule ip krat_0123456789ab dns iifname "kr-0123456789" ip daddr 10.89.0.1 {p} '
                          f"dport 53 dnat to 10.89.0.1:40053" for p in ("udp", "tcp")]


def test_no_port_drops_the_redirect():
    assert render_dns_redirect("t", "b", "10.89.0.1", None).splitlines()[1:] == ["flush chain ip t dns"]
