"""An HTTP proxy in front of a test registry that misbehaves on blob downloads, on request.

Modes (set `proxy.mode`): "pass", "truncate" (send half of each blob body, then close),
"corrupt" (flip one byte of each blob body), "429" (answer every request 429 with
Retry-After: 1 until `proxy.limit_429` is used up), "kill" (after half of a blob body,
call `on_kill` — which stops the registry — and close).
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.limit_429 = 0
        self.on_kill = None
        self.blob_gets = 0
        self.only: str | None = None  # restrict faults to blobs whose path contains this
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self):
                proxy._forward(self)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _forward(self, req: BaseHTTPRequestHandler) -> None:
        with self.lock:
            if self.mode == "429" and self.limit_429 > 0:
                self.limit_429 -= 1
                return _reply(req, 429, b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
                              {"Retry-After": "1"})
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else None
        headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP and k.lower() != "host"}
        headers["Host"] = f"127.0.0.1:{self.upstream_port}"
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
            conn.request(req.command, req.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError:
            req.close_connection = True  # the registry is gone: drop the client's connection
            return
        blob = req.command == "GET" and "/blobs/sha256:" in req.path and resp.status in (200, 206)
        if blob and self.only and self.only not in req.path:
            blob = False
        if blob:
            with self.lock:
                self.blob_gets += 1
            if self.mode in ("truncate", "kill") and len(data) > 1:
                return self._cut(req, resp, data)
            if self.mode == "corrupt" and data:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
        out_headers = {k: v for k, v in resp.getheaders() if k.lower() not in HOP and k.lower() != "content-length"}
        location = out_headers.get("Location")
        if location and location.startswith(f"http://127.0.0.1:{self.upstream_port}"):
            out_headers["Location"] = location.replace(f"127.0.0.1:{self.upstream_port}", self.host)
        _reply(req, resp.status, data, out_headers, head=req.command == "HEAD",
               length=int(resp.getheader("Content-Length") or len(data)))

    def _cut(self, req, resp, data: bytes) -> None:
        req.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                req.send_header(k, v)
        req.end_headers()
        req.wfile.write(data[: len(data) // 2])
        req.wfile.flush()
        if self.mode == "kill" and self.on_kill:
            self.on_kill()
        req.close_connection = True


def _reply(req, status: int, data: bytes, headers: dict, head: bool = False, length: int | None = None) -> None:
    req.send_response(status)
    for k, v in headers.items():
        req.send_header(k, v)
    req.send_header("Content-Length", str(length if length is not None else len(data)))
    req.end_headers()
    if not head:
        req.wfile.write(data)
