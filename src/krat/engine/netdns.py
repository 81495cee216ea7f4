"""Feeding and running a user network's DNS responder (krat.net.dnsserver).

`refresh` writes the network's name table from the state database (container names,
network aliases, short ids -> addresses of attached containers) and starts the responder
if it is not running; `stop` ends it. The responder also exits by itself when the table
is removed or empty, so a killed krat cannot leave it behind for long.
"""

from __future__ import annotations

import _signal as signal   # not `signal` (enums) nor `subprocess` (~2.7 ms): only for the responder
import os
import sys
import time

from krat.db import networks as rows
from krat.errors import Unavailable
from krat.net import dns
from krat.oci import jsoncodec as json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.engine.netattach import Attacher

READY_TIMEOUT_S = 10.0


def records(att: "Attacher", rec: rows.NetworkRecord) -> dict:
    names: dict[str, list[str]] = {}
    client_upstreams: dict[str, list[str]] = {}
    for ep in rows.endpoints_of_network(att.db, rec.id):
        if not ep.ip:
            continue
        got = rows.container_config(att.db, ep.container_id)
        name, config = got if got else (ep.container_id[:12], {})
        for key in dict.fromkeys([name, *ep.aliases, ep.container_id[:12]]):
            names.setdefault(key.lower(), []).append(ep.ip)
        if config.get("dns"):
            client_upstreams[ep.ip] = list(config["dns"])
    host = dns.parse_resolv_conf(_read("/etc/resolv.conf"))
    return {"names": names, "upstreams": list(dns.upstream_servers(host)), "client_upstreams": client_upstreams}


def refresh(att: "Attacher", rec: rows.NetworkRecord) -> None:
    folder = att.network_dir(rec.id)
    os.makedirs(folder, exist_ok=True)
    doc = records(att, rec)
    path = os.path.join(folder, "records.json")
    _write(path + ".tmp", json.dumps(doc))
    os.replace(path + ".tmp", path)
    if doc["names"] and _running(folder) is None:
        _start(folder, rec)


def _start(folder: str, rec: rows.NetworkRecord) -> None:
    import subprocess

    read_fd, write_fd = os.pipe()
    log = open(os.path.join(folder, "dns.log"), "ab")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "krat.net.dnsserver", "--listen", rec.gateway,
             "--records", os.path.join(folder, "records.json"), "--ready-fd", str(write_fd)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(write_fd,), start_new_session=True,
            cwd="/")  # holds no directory that a test or an unmount may want gone
    finally:
        os.close(write_fd)
        log.close()
    port = _wait_ready(read_fd)
    if port is None:
        proc.kill()
        proc.wait()
        with open(os.path.join(folder, "dns.log"), errors="replace") as f:
            detail = f.read().strip().splitlines()
        raise Unavailable(f"DNS responder for network {rec.name} did not start"
                          + (f": {detail[-1]}" if detail else ""))
    _write(os.path.join(folder, "dns.pid"), str(proc.pid))
    _redirect(folder, rec, port)


def _redirect(folder: str, rec: rows.NetworkRecord, port: int) -> None:
    """Port 53 of the gateway was taken (see dnsserver.bind): redirect it to the responder's
    port; a redirect of an earlier responder is dropped (the marker file says one exists)."""
    from krat.net import bridge, firewall

    marker = os.path.join(folder, "dns.redirect")
    if port == 53 and not os.path.exists(marker):
        return  # the usual case: no nft call at all
    firewall.redirect_dns(firewall.table_name(rec.id), bridge.bridge_name(rec.id), rec.gateway,
                          None if port == 53 else port)
    if port == 53:
        _unlink(marker)
    else:
        _write(marker, str(port))


def _wait_ready(fd: int) -> int | None:
    """The port the responder listens on, once it does; None if it failed."""
    import select

    try:
        readable, _, _ = select.select([fd], [], [], READY_TIMEOUT_S)
        text = os.read(fd, 16).decode(errors="replace").strip() if readable else ""
        return int(text) if text.isdigit() else None
    finally:
        os.close(fd)


def _running(folder: str) -> int | None:
    """The responder's pid if it is alive and really ours (pids are reused)."""
    try:
        with open(os.path.join(folder, "dns.pid")) as f:
            pid = int(f.read())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (OSError, ValueError):
        return None
    return pid if b"krat.net.dnsserver" in cmdline and folder.encode() in cmdline else None


def stop(att: "Attacher", rec: rows.NetworkRecord) -> None:
    stop_folder(att.network_dir(rec.id))


def stop_folder(folder: str) -> None:
    """End the responder serving from `folder` (if one does) and drop its name table."""
    pid = _running(folder)
    _unlink(os.path.join(folder, "records.json"))
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if _running(folder) is None or _zombie(pid):
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
