"""Networking: IPAM (pure), bridges, veths, namespaces, NAT and published ports, DNS.

    ipam.py       pure: subnets and addresses (default bridge 10.88.0.0/16, user /24s in 10.89-99)
    ports.py      pure: -p/-P parsing, host port choice, ps/port rendering
    dns.py        pure: /etc/hosts and resolv.conf contents
    netns.py      named network namespaces (nsfs bind mounts under <runroot>/netns)
    bridge.py     bridge and veth devices through iproute2 batches
    firewall.py   one nftables table per network: masquerade, isolation, DNAT for ports
    dnsserver.py  the per-network DNS responder process (`python -m krat.net.dnsserver`)

Knows nothing of containers or the database: the engine (engine/networks.py) decides
and records, this package acts on the kernel. Imports only oci and errors.
"""
