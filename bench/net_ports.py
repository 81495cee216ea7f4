"""Request throughput through a published port: krat (kernel DNAT) vs Docker (docker-proxy).

    sudo .venv/bin/python bench/net_ports.py [--requests 20000] [--concurrency 8] [--docker]

Serves one small file with busybox httpd in a container and drives it with ApacheBench
(`ab`) over 127.0.0.1:PORT, the path a developer's browser takes. krat's container is
an OCI bundle run by runc inside a namespace attached by NetworkService (the same
attachment `krat run -p` uses); with `--docker`, a private dockerd (own data-root,
exec-root, socket, and its own bridge; iptables off, so published ports go through
docker-proxy, as Docker's loopback traffic does by default) serves the same rootfs.
Also reports a direct connection to the container address (the NAT-free ceiling), and
what a 1000-port range costs krat (nftables rules, processes).

Prints one JSON object per line: {"name": ..., "requests_per_s": ..., ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from krat.db import open_database  # noqa: E402
from krat.engine.config import Paths  # noqa: E402
from krat.engine.networks import NetworkingRequest, NetworkService  # noqa: E402


def ab(url: str, requests: int, concurrency: int) -> float:
    out = subprocess.run(["ab", "-q", "-n", str(requests), "-c", str(concurrency), url],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))


def wait_http(url: str) -> None:
    for _ in range(100):
        if subprocess.run(["curl", "-sf", "-o", "/dev/null", url]).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def rootfs_tar(tmp: Path) -> Path:
    out = tmp / "busybox.tar"
    subprocess.run([sys.executable, str(REPO / "scripts" / "busybox-rootfs.py"), str(out)], check=True)
    return out


def bundle(tmp: Path, tar: Path, netns: str, www: Path) -> Path:
    b = tmp / "bundle"
    (b / "rootfs").mkdir(parents=True)
    subprocess.run(["tar", "-xf", str(tar), "-C", str(b / "rootfs")], check=True)
    subprocess.run(["runc", "spec", "--bundle", str(b)], check=True)
    config = json.loads((b / "config.json").read_text())
    config["process"].update(terminal=False, args=["httpd", "-f", "-p", "80", "-h", "/www"])
    config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "network"]
    config["linux"]["namespaces"].append({"type": "network", "path": netns})
    config["mounts"].append({"destination": "/www", "type": "bind", "source": str(www), "options": ["rbind", "ro"]})
    (b / "config.json").write_text(json.dumps(config))
    return b


def bench_krat(tmp: Path, tar: Path, www: Path, args) -> list[dict]:
    paths = Paths(tmp / "root", tmp / "run")
    svc = NetworkService(open_database(paths.db), paths)
    cid = secrets.token_hex(32)
    svc.configure(cid, "bench", NetworkingRequest(publish=("127.0.0.1::80",)))
    state = tmp / "runc"
    name = f"krat-bench-{cid[:8]}"
    proc = None
    try:
        att = svc.attach(cid, "bench")
        proc = subprocess.Popen(["runc", "--root", str(state), "run", "--bundle", str(bundle(tmp, tar, att.netns_path,
                                                                                               www)), name])
        port = att.ports[0].host_port
        wait_http(f"http://127.0.0.1:{port}/")
        results = [{"name": "krat published port (DNAT)",
                    "requests_per_s": ab(f"http://127.0.0.1:{port}/", args.requests, args.concurrency)},
                   {"name": "direct to container address (ceiling)",
                    "requests_per_s": ab(f"http://{att.ips[0]}/", args.requests, args.concurrency)}]
        results.append(range_cost(svc))
        return results
    finally:
        subprocess.run(["runc", "--root", str(state), "delete", "-f", name], capture_output=True)
        if proc:
            proc.wait()
        svc.forget(cid)
        for rec in svc.list():
            svc.teardown(rec)


def range_cost(svc: NetworkService) -> dict:
    """What publishing 1000 ports costs: nftables rules and processes (no proxy)."""
    from krat.net import firewall

    from krat.errors import Conflict

    for base in range(20000, 49000, 1000):  # a free range: the host may hold some ports
        cid = secrets.token_hex(32)
        svc.configure(cid, "range", NetworkingRequest(publish=(f"{base}-{base + 999}:{base}-{base + 999}",)))
        try:
            svc.attach(cid, "range")
            break
        except Conflict:
            svc.forget(cid)
    table = firewall.table_name(svc.get("bridge").id)
    listing = subprocess.run(["nft", "list", "chain", "ip", table, "ports"], capture_output=True, text=True).stdout
    rules = sum(1 for line in listing.splitlines() if f'"c={cid}"' in line)
    mine = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline(pid).find(cid[:12]) >= 0]
    svc.forget(cid)
    return {"name": f"krat -p {base}-{base + 999} (1000 ports)", "nft_rules": rules, "processes": len(mine)}


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def bench_docker(tmp: Path, tar: Path, www: Path, args) -> list[dict]:
    sock = tmp / "docker.sock"
    br = f"kdb{secrets.token_hex(3)}"
    subprocess.run(["ip", "link", "add", br, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "10.254.254.1/24", "dev", br], check=True)
    subprocess.run(["ip", "link", "set", br, "up"], check=True)
    dockerd = subprocess.Popen(["dockerd", "--data-root", str(tmp / "docker"), "--exec-root", str(tmp / "dexec"),
                                "--pidfile", str(tmp / "docker.pid"), "-H", f"unix://{sock}", "--bridge", br,
                                "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    docker = ["docker", "-H", f"unix://{sock}"]
    try:
        for _ in range(200):
            if subprocess.run([*docker, "info"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run([*docker, "import", str(tar), "krat-bench/busybox"], check=True, capture_output=True)
        cid = subprocess.run([*docker, "run", "-d", "-p", "127.0.0.1::80", "-v", f"{www}:/www:ro",
                              "krat-bench/busybox", "httpd", "-f", "-p", "80", "-h", "/www"],
                             check=True, capture_output=True, text=True).stdout.strip()
        port = subprocess.run([*docker, "port", cid, "80"], check=True, capture_output=True,
                              text=True).stdout.split(":")[-1].strip()
        wait_http(f"http://127.0.0.1:{port}/")
        rps = ab(f"http://127.0.0.1:{port}/", args.requests, args.concurrency)
        subprocess.run([*docker, "rm", "-f", cid], capture_output=True)
        return [{"name": "docker published port (docker-proxy)", "requests_per_s": rps}]
    finally:
        dockerd.terminate()
        dockerd.wait(timeout=60)
        subprocess.run(["ip", "link", "del", br], capture_output=True)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--docker", action="store_true")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="krat-bench-ports-"))
    try:
        tar = rootfs_tar(tmp)
        www = tmp / "www"
        www.mkdir()
        (www / "index.html").write_text("x" * 512)
        results = bench_krat(tmp, tar, www, args)
        if args.docker:
            results += bench_docker(tmp, tar, www, args)
        for r in results:
            print(json.dumps(r))
    finally:
        subprocess.run(["umount", "-R", "-l", str(tmp)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
