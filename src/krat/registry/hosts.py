"""Per-registry settings: API host, TLS trust (certs.d), insecure registries, mirrors, search list.

Configuration is a TOML file in the shape of containers-registries.conf(5) (a subset), read from
$KRAT_REGISTRIES_CONF, else $XDG_CONFIG_HOME/krat/registries.conf, else /etc/krat/registries.conf:

    unqualified-search-registries = ["docker.io"]
    [[registry]]
    location = "myregistry:5000"
    insecure = true                 # TLS without verification, then plain HTTP
    [[registry.mirror]]
    location = "127.0.0.1:5001"

TLS: the system CA bundle plus every `*.crt` in `<certs.d>/<host[:port]>/`, looked up in
$XDG_CONFIG_HOME/krat/certs.d, /etc/krat/certs.d, /etc/containers/certs.d and
/etc/docker/certs.d (Docker's layout; `client.cert` + `client.key` give a client
certificate). A `--cert-dir` names one such host directory directly, as in Podman.

Plain HTTP: registries marked insecure (config, or `--tls-verify=false` on the command), and
loopback registries (localhost, 127.0.0.0/8, ::1) when they do not speak TLS at all, as
Docker allows. A loopback registry that does speak TLS is verified like any other.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from krat.errors import InvalidArgument

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
SYSTEM_CERT_DIRS = ("/etc/krat/certs.d", "/etc/containers/certs.d", "/etc/docker/certs.d")


def config_home() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "krat"


@dataclass(frozen=True)
class RegistryEntry:
    location: str
    insecure: bool = False
    blocked: bool = False
    mirrors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegistriesConfig:
    search: tuple[str, ...] = (DOCKER_HUB,)
    entries: tuple[RegistryEntry, ...] = ()
    source: str | None = None

    def entry(self, host: str) -> RegistryEntry | None:
        # The longest matching location wins ("host" or "host/namespace").
        best = None
        for item in self.entries:
            loc = item.location.rstrip("/")
            if host == loc or host.startswith(loc + "/"):
                if best is None or len(loc) > len(best.location):
                    best = item
        return best

    def insecure(self, host: str) -> bool:
        item = self.entry(host)
        return bool(item and item.insecure)


def load_config(path: Path | None = None) -> RegistriesConfig:
    path = path or _config_path()
    if path is None or not path.exists():
        return RegistriesConfig()
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"{path}: {err}") from err
    return parse_config(doc, str(path))


def _config_path() -> Path | None:
    env = os.environ.get("KRAT_REGISTRIES_CONF")
    if env:
        return Path(env)
    for candidate in (config_home() / "registries.conf", Path("/etc/krat/registries.conf")):
        if candidate.exists():
            return candidate
    return None


def parse_config(doc: dict, source: str) -> RegistriesConfig:
    search = doc.get("unqualified-search-registries", [DOCKER_HUB])
    if not isinstance(search, list) or not all(isinstance(s, str) for s in search):
        raise InvalidArgument(f"{source}: unqualified-search-registries must be a list of strings")
    entries = []
    for item in doc.get("registry", []):
        location = item.get("location") or item.get("prefix")
        if not isinstance(location, str) or not location:
            raise InvalidArgument(f"{source}: every [[registry]] needs a location")
        mirrors = tuple(m["location"] for m in item.get("mirror", []) if isinstance(m, dict) and m.get("location"))
        entries.append(RegistryEntry(location, bool(item.get("insecure")), bool(item.get("blocked")), mirrors))
    return RegistriesConfig(tuple(search) or (DOCKER_HUB,), tuple(entries), source)


def api_host(domain: str) -> str:
    """Where a reference's domain is served: docker.io lives at registry-1.docker.io."""
    return DOCKER_HUB_API if domain == DOCKER_HUB else domain


def is_loopback(host: str) -> bool:
    name = split_port(host)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def split_port(host: str) -> tuple[str, int | None]:
    if host.startswith("["):
        name, _, rest = host.partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return name + "]", int(port) if port.isdigit() else None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name, int(port)
    return host, None


@dataclass(frozen=True)
class TLSFiles:
    ca_files: tuple[Path, ...] = ()
    client_cert: tuple[Path, Path] | None = None


@dataclass(frozen=True)
class Endpoint:
    """How to reach one registry host: the schemes to try, in order, and TLS trust."""

    host: str
    schemes: tuple[str, ...]
    verify: bool
    tls: TLSFiles = field(default_factory=TLSFiles)
    # Fall back to http only when the server does not speak TLS (loopback), not on a bad cert.
    http_only_if_not_tls: bool = False


def endpoint_for(host: str, config: RegistriesConfig, *, tls_verify: bool | None = None,
                 cert_dir: Path | None = None) -> Endpoint:
    """Decide (purely, apart from listing cert files) how to talk to `host`."""
    tls = find_tls_files(host, cert_dir)
    if tls_verify is False or (tls_verify is None and config.insecure(host)):
        return Endpoint(host, ("https", "http"), False, tls)
    if tls_verify is None and is_loopback(host):
        return Endpoint(host, ("https", "http"), True, tls, http_only_if_not_tls=True)
    return Endpoint(host, ("https",), True, tls)


def cert_dirs(host: str, cert_dir: Path | None = None) -> list[Path]:
    if cert_dir is not None:
        return [cert_dir]
    # Docker names directories host:port; a Windows-safe host_port spelling is not used here.
    bases = [config_home() / "certs.d", *map(Path, SYSTEM_CERT_DIRS)]
    return [base / host for base in bases]


def find_tls_files(host: str, cert_dir: Path | None = None) -> TLSFiles:
    cas: list[Path] = []
    client = None
    for folder in cert_dirs(host, cert_dir):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        cas += [folder / n for n in names if n.endswith(".crt")]
        for name in names:
            if name.endswith(".cert") and client is None:
                key = folder / (name[: -len(".cert")] + ".key")
                if not key.exists():
                    raise InvalidArgument(f"{folder / name}: client certificate without {key.name}")
                client = (folder / name, key)
    return TLSFiles(tuple(cas), client)


def ssl_context(endpoint: Endpoint):
    """An SSLContext with the system CAs plus the registry's own (imports ssl lazily)."""
    import ssl

    ctx = ssl.create_default_context()
    if not endpoint.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    for ca in endpoint.tls.ca_files:
        try:
            ctx.load_verify_locations(cafile=str(ca))
        except (OSError, ssl.SSLError) as err:
            raise InvalidArgument(f"{ca}: cannot load CA certificate: {err}") from err
    if endpoint.tls.client_cert:
        cert, key = endpoint.tls.client_cert
        try:
            ctx.load_cert_chain(str(cert), str(key))
        except (OSError, ssl.SSLError) as err:
            raise InvalidArgument(f"{cert}: cannot load client certificate: {err}") from err
    return ctx
