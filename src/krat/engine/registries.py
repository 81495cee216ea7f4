"""Registry services shared by pull, push, login, search and `run --pull`: which registry a
name means, how to reach it (TLS, credentials), and the pull policy.

Short names ("busybox", "user/app") mean Docker Hub, as in Docker. With an
`unqualified-search-registries` list in registries.conf (see krat.registry.hosts) other than
just docker.io, a pull of a short name tries each registry in order, like Podman.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from krat.errors import InvalidArgument, KratError, NotFound
from krat.oci.reference import DEFAULT_DOMAIN, Reference, parse_reference

if TYPE_CHECKING:
    from krat.engine.config import Paths
    from krat.engine.images import Image
    from krat.registry.client import RegistryClient


@dataclass(frozen=True)
class Access:
    """How the user asked to reach registries: --tls-verify, --cert-dir, --creds, --authfile."""

    tls_verify: bool | None = None
    cert_dir: Path | None = None
    username: str | None = None
    password: str | None = None
    platform: str | None = None


class PullPolicy(enum.Enum):
    MISSING = "missing"
    ALWAYS = "always"
    NEVER = "never"
    NEWER = "newer"  # Podman's; treated as "always" (a pull that finds nothing new is cheap)

    @classmethod
    def parse(cls, text: str) -> "PullPolicy":
        try:
            return cls(text.lower())
        except ValueError:
            raise InvalidArgument(f"invalid pull policy {text!r}: use missing, always or never") from None


def is_short_name(text: str) -> bool:
    first, sep, _ = text.partition("/")
    return not sep or not ("." in first or ":" in first or first == "localhost")


def candidates(text: str) -> list[Reference]:
    """The references a user's name may mean, in the order to try them."""
    ref = parse_reference(text)
    if not is_short_name(text.split("@")[0]):
        return [ref]
    from krat.registry.hosts import load_config

    search = load_config().search
    if tuple(search) == (DEFAULT_DOMAIN,):
        return [ref]
    out = []
    for domain in search:
        path = ref.path if domain == DEFAULT_DOMAIN else ref.path.removeprefix("library/")
        out.append(Reference(domain, path, ref.tag, ref.digest))
    return out


def open_client(domain: str, access: Access = Access()) -> "RegistryClient":
    from krat.registry import credentials
    from krat.registry.auth import Credentials
    from krat.registry.client import RegistryClient
    from krat.registry.hosts import api_host, endpoint_for, load_config

    config = load_config()
    entry = config.entry(domain)
    if entry and entry.blocked:
        raise InvalidArgument(f"registry {domain} is blocked in {config.source}")
    creds = (Credentials(access.username, access.password or "") if access.username
             else credentials.lookup(domain))
    endpoint = endpoint_for(api_host(domain), config, tls_verify=access.tls_verify, cert_dir=access.cert_dir)
    return RegistryClient(endpoint, creds)


def mirrors(domain: str) -> tuple[str, ...]:
    from krat.registry.hosts import load_config

    entry = load_config().entry(domain)
    return entry.mirrors if entry else ()


def login(server: str | None, username: str, password: str, access: Access = Access()) -> str:
    """Check the credentials against the registry, then store them; returns the host."""
    from krat.registry import credentials
    from krat.registry.auth import Credentials

    host = registry_host(server)
    if not username or not password:
        raise InvalidArgument("login needs a username and a password")
    with open_client(host, Access(access.tls_verify, access.cert_dir, username, password)) as client:
        client.check_login()
    credentials.store(host, Credentials(username, password))
    return host


def logout(server: str | None) -> tuple[str, bool]:
    from krat.registry import credentials

    host = registry_host(server)
    return host, credentials.remove(host)


def registry_host(server: str | None) -> str:
    """'https://127.0.0.1:5000/v2/' -> '127.0.0.1:5000'; nothing -> docker.io."""
    from krat.registry.credentials import normalise_key
    from krat.registry.hosts import split_port

    if not server:
        return DEFAULT_DOMAIN
    host = normalise_key(server.strip())
    name, _ = split_port(host)
    if not name or any(c in name for c in " @?#") or "/" in host:
        raise InvalidArgument(f"invalid registry address {server!r}")
    return host


def search(term: str, limit: int = 25, access: Access = Access()) -> list[str]:
    """Repositories matching `term` in a registry's catalog: 'host/term' searches that host."""
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, needle = first, rest
    else:
        host, needle = DEFAULT_DOMAIN, term
    if host == DEFAULT_DOMAIN:
        raise InvalidArgument(f"cannot search {term!r}: krat searches a registry's catalog (/v2/_catalog), "
                              "which Docker Hub does not offer; name one, as in 'krat search HOST[:PORT]/TERM'")
    with open_client(host, access) as client:
        names = client.catalog(what=f"catalog of {host}")
    return [f"{host}/{n}" for n in names if needle.lower() in n.lower()][:limit]


def ensure_image(paths: "Paths", ref: str, policy: PullPolicy | str = PullPolicy.MISSING,
                 access: Access = Access(), listener=None) -> "Image":
    """The image `ref` names, pulled first when the policy says so (`run`/`create`/`build --pull`)."""
    from krat.engine.images import ImageService
    from krat.engine.pull import pull

    policy = PullPolicy.parse(policy) if isinstance(policy, str) else policy
    images = ImageService(paths)
    if policy is PullPolicy.NEVER:
        return images.resolve(ref)
    if policy is PullPolicy.MISSING:
        try:
            return images.resolve(ref)
        except NotFound:
            pass
    try:
        results = pull(paths, ref, access=access, listener=listener)
    except KratError as err:
        if policy is not PullPolicy.MISSING:
            raise
        # Docker: "Unable to find image locally", then why the pull failed; one line here.
        raise NotFound(f"No such image: {ref} (not found locally; pulling it failed: {err.message})") from err
    return images.get(results[-1].image_id)
