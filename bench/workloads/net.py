"""Network workloads: `run --rm` with and without a network, and with a 1000-port range.

- `run --rm --network none true` on every engine: the floor, the same work everywhere.
- `run --rm true` on the default bridge (veth, address, NAT table; the bridge itself
  stays up because a parked container keeps the network in use, as on a busy host).
  By default the peers run with their networking off (tests/peers.py: --bridge=none, no
  iptables, so nothing global changes) and only krat is timed on a bridge.
  `bench/run --private-net -k bridge` runs every engine inside a private network and
  mount namespace, where Docker and Podman keep their bridges on: all three are timed.
- `run --rm -p 8000-8999:8000-8999 true`: publishing a thousand ports is one nftables
  rule and no process, so it should cost about what one port does.

Request throughput through a published port, krat's DNAT against docker-proxy, is
measured by bench/net_ports.py (it needs a load generator, not a timed CLI call).
"""

from __future__ import annotations

import os
import subprocess
import sys

from harness import PRIVATE_NET, REPO, Workload

# bench/run --private-net: the peers have their networking on, in a namespace of their own
BRIDGED = ("krat", "docker", "podman") if os.environ.get(PRIVATE_NET) else ("krat",)

IMAGE = "bench/netbox:1"


def _image(engine, ctx) -> None:
    if "busybox" not in ctx.cache:
        out = ctx.scratch / "net-busybox.tar"
        subprocess.run([sys.executable, str(REPO / "scripts" / "busybox-rootfs.py"), str(out)], check=True)
        ctx.cache["busybox"] = out
    engine.ok("import", str(ctx.cache["busybox"]), IMAGE)


def _with_parked(engine, ctx) -> None:
    _image(engine, ctx)
    engine.ok("run", "-d", "--name", "parked", IMAGE, "sleep", "3600")


def _none(engine, ctx) -> list[str]:
    return ["run", "--rm", "--network", "none", IMAGE, "true"]


def _bridge(engine, ctx) -> list[str]:
    return ["run", "--rm", IMAGE, "true"]


def _range(engine, ctx) -> list[str]:
    return ["run", "--rm", "-p", "8000-8999:8000-8999", IMAGE, "true"]


WORKLOADS = [
    Workload("run --rm --network none true", command=_none, setup=_image, repeat=10),
    Workload("run --rm true (default bridge)", command=_bridge, setup=_with_parked, repeat=10,
             engines=BRIDGED),
    Workload("run --rm -p 8000-8999:8000-8999 true", command=_range, setup=_with_parked, repeat=5,
             engines=("krat",)),
]
