"""A user network's DNS responder: `python -m krat.net.dnsserver --listen GATEWAY --records FILE`.

One process per user-defined network, started by the engine when the network's first
container starts. It listens on the network's gateway address, UDP and TCP port 53 (or,
when a host DNS server holds 0.0.0.0:53, another port that the network's port 53 is
redirected to: see `bind`), in the host's namespace (like Podman's aardvark-dns, and unlike Docker's per-container
127.0.0.11: one process and no per-container NAT rule serve the whole network, and it can
reach host resolvers on loopback such as systemd-resolved's 127.0.0.53).

It answers A queries for container names, network aliases and short ids from FILE (a
JSON snapshot that the engine rewrites from the state database on every attach and
detach; the responder reloads it when it changes), and forwards everything else to the
host's resolvers (or a container's --dns servers). It exits when FILE is gone or lists no
containers, and on SIGTERM.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import select
import signal
import socket
import sys
import threading
from pathlib import Path

from dnslib import PTR, QTYPE, RCODE, RR, A, DNSRecord

TTL = 0           # names follow containers that restart with a new address
CHECK_EVERY_S = 2.0
FORWARD_TIMEOUT_S = 3.0


class Records:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.mtime = -1.0
        self.names: dict[str, list[str]] = {}
        self.upstreams: list[str] = []
        self.client_upstreams: dict[str, list[str]] = {}

    def reload(self) -> bool:
        """Re-read the file when it changed; False when the network has no containers left."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return False
        if mtime != self.mtime:
            try:
                doc = json.loads(self.path.read_text())
            except (OSError, ValueError):
                return True  # mid-replace: keep the last good copy
            self.mtime = mtime
            self.names = {k.lower(): v for k, v in doc.get("names", {}).items()}
            self.upstreams = doc.get("upstreams", [])
            self.client_upstreams = doc.get("client_upstreams", {})
        return bool(self.names)

    def reverse(self, qname: str) -> str | None:
        if not qname.endswith(".in-addr.arpa"):
            return None
        ip = ".".join(reversed(qname[: -len(".in-addr.arpa")].split(".")))
        for name, addrs in self.names.items():
            if ip in addrs and "." not in name and len(name) != 12:
                return name
        return None


def answer(records: Records, data: bytes, client: str) -> bytes | None:
    """The reply to one query, or None to forward it."""
    try:
        query = DNSRecord.parse(data)
    except Exception:
        return None
    qname = str(query.q.qname).rstrip(".").lower()
    reply = query.reply()
    if qname in records.names:
        if query.q.qtype in (QTYPE.A, QTYPE.ANY):
            for ip in records.names[qname]:
                reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(ip), ttl=TTL))
        return reply.pack()  # AAAA and others: the name exists, no such record (IPv4 only)
    if query.q.qtype == QTYPE.PTR:
        name = records.reverse(qname)
        if name:
            reply.add_answer(RR(query.q.qname, QTYPE.PTR, rdata=PTR(name + "."), ttl=TTL))
            return reply.pack()
    return None


def forward(records: Records, data: bytes, client: str) -> bytes:
    for server in records.client_upstreams.get(client) or records.upstreams:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(FORWARD_TIMEOUT_S)
                up.sendto(data, (server, 53))
                return up.recvfrom(65535)[0]
        except OSError:
            continue
    failed = DNSRecord.parse(data).reply()
    failed.header.rcode = RCODE.SERVFAIL
    return failed.pack()


def handle_udp(records: Records, sock: socket.socket, data: bytes, peer: tuple) -> None:
    reply = answer(records, data, peer[0])
    if reply is None:
        reply = forward(records, data, peer[0])
    sock.sendto(reply, peer)


def handle_tcp(records: Records, conn: socket.socket, peer: tuple) -> None:
    with conn:
        conn.settimeout(FORWARD_TIMEOUT_S)
        try:
            size = int.from_bytes(_recv_exact(conn, 2), "big")
            data = _recv_exact(conn, size)
            reply = answer(records, data, peer[0]) or forward(records, data, peer[0])
            conn.sendall(len(reply).to_bytes(2, "big") + reply)
        except (OSError, ValueError):
            return


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = conn.recv(size - len(buf))
        if not chunk:
            raise ValueError("short read")
        buf += chunk
    return buf


def _bind_pair(listen: str, port: int) -> tuple[socket.socket, socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT of a last run, not sharing
    try:
        udp.bind((listen, port))
        tcp.bind((listen, udp.getsockname()[1]))
        tcp.listen(64)
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return udp, tcp


def bind(listen: str) -> tuple[socket.socket, socket.socket, int]:
    """UDP and TCP sockets on `listen`, port 53 if it is free.

    A host DNS server bound to the wildcard address 0.0.0.0:53 takes port 53 of every
    address, the gateway's too: Linux refuses a specific-address bind on a port that a
    wildcard socket holds (EADDRINUSE), unless both sockets set SO_REUSEADDR (UDP only)
    or SO_REUSEPORT (same user), which such a server does not do for us. Then the
    responder takes one free port for both protocols and the engine redirects the
    gateway's port 53 there (firewall.render_dns_redirect) for traffic from the bridge."""
    try:
        udp, tcp = _bind_pair(listen, 53)
        return udp, tcp, 53
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise
    for _ in range(20):  # the UDP port the kernel picks may be taken for TCP
        try:
            udp, tcp = _bind_pair(listen, 0)
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
            continue
        port = udp.getsockname()[1]
        sys.stderr.write(f"krat dns: {listen}:53 is taken (a host DNS server on 0.0.0.0:53?); "
                         f"listening on port {port}, where the network's port 53 is redirected\n")
        return udp, tcp, port
    raise OSError(errno.EADDRINUSE, "no free port for both UDP and TCP")


def serve(listen: str, records: Records, ready_fd: int | None) -> int:
    try:
        udp, tcp, port = bind(listen)
    except OSError as err:
        sys.stderr.write(f"krat dns: cannot listen on {listen}:53: {err.strerror}\n")
        return 1
    records.reload()
    if ready_fd is not None:
        os.write(ready_fd, f"{port}\n".encode())  # the engine redirects 53 there unless it is 53
        os.close(ready_fd)
    while records.reload():
        readable, _, _ = select.select([udp, tcp], [], [], CHECK_EVERY_S)
        if readable:
            records.reload()  # a rename or restart may have changed the table while we waited
        for sock in readable:
            if sock is udp:
                data, peer = udp.recvfrom(65535)
                threading.Thread(target=handle_udp, args=(records, udp, data, peer), daemon=True).start()
            else:
                conn, peer = tcp.accept()
                threading.Thread(target=handle_tcp, args=(records, conn, peer), daemon=True).start()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="krat-dns")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--records", required=True)
    parser.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    return serve(args.listen, Records(Path(args.records)), args.ready_fd)


if __name__ == "__main__":
    sys.exit(main())
