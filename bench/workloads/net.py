"""Network workloads: `run --rm` with and without a network, and with a 1000-port range.

- `run --rm --network none true` on every engine: the floor, the same work everywhere.
- `run --rm true` on krat's default bridge (veth, address, NAT table; the bridge itself
  stays up because a parked container keeps the network in use, as on a busy host).
  The peers run here with their networking off (tests/peers.py: --bridge=none, no
  iptables, so nothing global changes), so only krat is timed on a bridge; compare
  it with the peers' `--network none` numbers, which are their floor.
- `run --rm -p 8000-8999:8000-8999 true`: publishing a thousand ports is one nftables
  rule and no process, so it should cost about what one port does.

Request throughput through a published port, krat's DNAT against docker-proxy, is
measured by bench/net_ports.py (it needs a load generator, not a timed CLI call).
"""

from __future__ import annotations

import subprocess
import sys

from harness import REPO, Workload

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
             engines=("krat",)),
    Workload("run --rm -p 8000-8999:8000-8999 true", command=_range, setup=_with_parked, repeat=5,
             engines=("krat",)),
]
