"""Real registries for tests: Debian's docker-registry on loopback, TLS, htpasswd, a token server.

Everything listens on 127.0.0.1 on a free port; nothing contacts another address.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

REGISTRY_BIN = "/usr/bin/docker-registry"
_ACCESS = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d+)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Registry:
    workdir: Path
    port: int
    proc: subprocess.Popen | None = None
    tls: bool = False
    log_path: Path = field(init=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, uri, status) of every request the registry logged so far."""
        text = self.log_path.read_text(errors="replace")
        return [(m[1], m[2], int(m[3])) for m in _ACCESS.finditer(text)]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def start_registry(workdir: Path, *, tls: tuple[Path, Path] | None = None, htpasswd: Path | None = None,
                   token: dict | None = None, port: int | None = None, storage: Path | None = None) -> Registry:
    workdir.mkdir(parents=True, exist_ok=True)
    reg = Registry(workdir, port or free_port(), tls=tls is not None)
    storage = storage or workdir / "storage"
    lines = ["version: 0.1", "log:", "  level: info", "  accesslog:", "    disabled: false",
             "storage:", "  filesystem:", f"    rootdirectory: {storage}", "  delete:", "    enabled: true",
             "http:", f"  addr: 127.0.0.1:{reg.port}", "  secret: krat-test-secret"]
    if tls:
        lines += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
    if htpasswd:
        lines += ["auth:", "  htpasswd:", "    realm: krat-test", f"    path: {htpasswd}"]
    if token:
        lines += ["auth:", "  token:", *(f"    {k}: {v}" for k, v in token.items())]
    config = workdir / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    reg.log_path = workdir / "registry.log"
    log = open(reg.log_path, "ab")
    reg.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    log.close()
    _wait_ready(reg, tls)
    return reg


def _wait_ready(reg: Registry, tls) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if reg.proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {reg.log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", reg.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    reg.stop()
    raise RuntimeError("docker-registry did not start listening")


# -- TLS material --------------------------------------------------------------------------

def openssl(*args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=input, capture_output=True, check=True).stdout


def make_ca(folder: Path, name: str = "krat test CA") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    key, crt = folder / "ca.key", folder / "ca.crt"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
            "-days", "2", "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt, key


def make_server_cert(folder: Path, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    key, csr, crt, ext = folder / "server.key", folder / "server.csr", folder / "server.crt", folder / "ext.cnf"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
            "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return crt, key


def htpasswd_file(path: Path, user: str, password: str) -> Path:
    line = subprocess.run(["htpasswd", "-Bbn", user, password], capture_output=True, text=True, check=True).stdout
    path.write_text(line.strip() + "\n")
    return path


# -- a bearer-token server (distribution's token spec, RS256 JWTs signed by openssl) ------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues tokens for requested scopes: all actions with valid credentials, pull when anonymous_pull."""

    def __init__(self, folder: Path, users: dict[str, str], *, anonymous_pull: bool = False) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.key = folder / "token.key"
        self.cert = folder / "token.crt"
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key), "-out", str(self.cert),
                "-days", "2", "-subj", "/CN=krat test token issuer")
        der = openssl("x509", "-in", str(self.cert), "-outform", "DER")
        self.x5c = base64.b64encode(der).decode()
        self.users = users
        self.anonymous_pull = anonymous_pull
        self.issued: list[dict] = []
        self.service = "krat-test-registry"
        self.issuer = "krat-test-issuer"
        server = self
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/token"

    def registry_config(self) -> dict:
        return {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                "rootcertbundle": str(self.cert)}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlparse(req.path).query)
        user = None
        header = req.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self.users.get(name) != password:
                return self._reply(req, 401, {"details": "incorrect username or password"})
            user = name
        elif not self.anonymous_pull:
            return self._reply(req, 401, {"details": "authentication required"})
        access = []
        for scope in query.get("scope", []):
            for item in scope.split(" "):
                kind, _, rest = item.partition(":")
                name, _, actions = rest.rpartition(":")
                granted = actions.split(",") if user else [a for a in actions.split(",") if a == "pull"]
                access.append({"type": kind, "name": name, "actions": granted})
        with self.lock:
            self.issued.append({"user": user, "access": access, "service": query.get("service", [""])[0]})
        self._reply(req, 200, {"token": self._sign(user or "", access), "expires_in": 300})

    def _sign(self, subject: str, access: list[dict]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = openssl("dgst", "-sha256", "-sign", str(self.key), input=signing_input.encode())
        return f"{signing_input}.{_b64url(signature)}"

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, status: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)
