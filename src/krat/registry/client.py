"""The Distribution API v2 client: one RegistryClient per registry host.

HTTP goes through one httpx.Client (thread-safe; transfers run in parallel threads).
Every request carries the auth header for its scopes; a 401 re-authenticates once; a 429
waits for Retry-After (bounded); idempotent requests are retried on 502/503/504 and on
connection errors. Errors become krat's error classes with one-line messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from krat.errors import InvalidArgument, KratError, NotFound, PermissionDenied, Unavailable
from krat.oci.digest import Digest
from krat.registry.auth import Authenticator, Credentials
from krat.registry.hosts import Endpoint, ssl_context
from krat.registry.media import ACCEPT, DOCKER_SCHEMA1, MAX_MANIFEST_BYTES, Manifest, media_type_of

if TYPE_CHECKING:
    import httpx

USER_AGENT = "krat/0.1"
MAX_429_RETRIES = 3
MAX_RETRY_AFTER_S = 30.0
IDEMPOTENT = ("GET", "HEAD")
RETRY_STATUSES = (502, 503, 504)
RETRY_BACKOFF_S = (0.3, 1.0)
CATALOG_SCOPE = "registry:catalog:*"


@dataclass(frozen=True)
class Timeouts:
    connect: float = 15.0
    read: float = 120.0


class RegistryClient:
    def __init__(self, endpoint: Endpoint, credentials: Credentials | None = None, *,
                 transport: "httpx.BaseTransport | None" = None, timeouts: Timeouts = Timeouts(),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import httpx  # lazily: ~60 ms of imports that only registry verbs pay

        self.endpoint = endpoint
        self.host = endpoint.host
        self.sleep = sleep
        self.http = httpx.Client(
            verify=ssl_context(endpoint), transport=transport, follow_redirects=True,
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            headers={"User-Agent": USER_AGENT},
        )
        self.auth = Authenticator(endpoint.host, credentials, self._fetch_token)
        self._base: str | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- connection and scheme ---------------------------------------------------------

    @property
    def base(self) -> str:
        with self._lock:
            if self._base is None:
                self._base = self._negotiate()
            return self._base

    def _negotiate(self) -> str:
        """Ping /v2/ over each allowed scheme; the first that answers like a registry wins."""
        import httpx

        last: Exception | None = None
        for scheme in self.endpoint.schemes:
            url = f"{scheme}://{self.host}/v2/"
            try:
                resp = self._retrying(lambda: self.http.get(url), idempotent=True)
            except httpx.TransportError as err:
                last = err
                if scheme == "https" and self.endpoint.http_only_if_not_tls and _cert_error(err):
                    break  # a loopback registry speaking TLS with an untrusted certificate: no downgrade
                continue
            if resp.status_code in (200, 401):
                self.auth.learn(resp.headers.get("WWW-Authenticate"))
                return f"{scheme}://{self.host}"
            if resp.status_code == 429 or resp.status_code >= 500:
                raise _status_error(resp, f"registry {self.host}")
            raise Unavailable(f"{url} does not look like a registry (HTTP {resp.status_code})")
        raise self._transport_error(last)

    def ping(self) -> str:
        """Check the registry answers; returns the base URL in use."""
        return self.base

    def check_login(self) -> None:
        """Prove the credentials work: a token with no scope, or a basic-authenticated /v2/."""
        base = self.base
        if self.auth.scheme == "bearer":
            self.auth.challenged(self._ping_challenge(base), ())
            return
        authz = self.auth.header(())
        resp = self._send("GET", f"{base}/v2/", {"Authorization": authz} if authz else {})
        if resp.status_code == 401:
            raise PermissionDenied(f"login to {self.host} failed: unauthorized: incorrect username or password")
        if resp.status_code != 200:
            raise _status_error(resp, f"login to {self.host}")

    def _ping_challenge(self, base: str) -> str | None:
        return self._send("GET", f"{base}/v2/", {}).headers.get("WWW-Authenticate")

    # -- requests ----------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        return urljoin(self.base + "/", path_or_url)

    def request(self, method: str, path: str, *, what: str, scopes: tuple[str, ...] = (),
                headers: dict[str, str] | None = None, params: dict | None = None,
                content: Callable[[], bytes | Iterable[bytes]] | None = None,
                expect: tuple[int, ...] = (200,), stream: bool = False) -> "httpx.Response":
        """One API call, authenticated and retried; raises a KratError unless status is in expect.

        `content` is a factory so a body can be sent again after a 401; with stream=True the
        caller must close the response.
        """
        url = self.url(path)
        hdrs = dict(headers or {})
        retried_auth = False
        while True:
            authz = self.auth.header(scopes)
            if authz:
                hdrs["Authorization"] = authz
            resp = self._retrying(lambda: self._send(method, url, hdrs, params, content, stream),
                                  idempotent=method in IDEMPOTENT)
            if resp.status_code == 401 and not retried_auth:
                retry_with = self.auth.challenged(resp.headers.get("WWW-Authenticate"), scopes)
                if retry_with and retry_with != authz:
                    resp.close()
                    retried_auth = True
                    continue
            if resp.status_code in expect:
                return resp
            try:
                if stream:
                    resp.read()
                raise _status_error(resp, what, bool(self.auth.credentials))
            finally:
                resp.close()

    def _send(self, method: str, url: str, headers: dict[str, str], params: dict | None = None,
              content: Callable[[], bytes | Iterable[bytes]] | None = None,
              stream: bool = False) -> "httpx.Response":
        import httpx

        try:
            target = httpx.URL(url)
            if params:
                # Upload locations carry their own query (_state=...): merge, never replace.
                target = target.copy_merge_params(params)
            req = self.http.build_request(method, target, headers=headers, content=content() if content else None)
            return self.http.send(req, stream=stream)
        except httpx.TransportError as err:
            raise self._transport_error(err) from err

    def _retrying(self, call: Callable[[], "httpx.Response"], *, idempotent: bool) -> "httpx.Response":
        """Retry 429 (honouring Retry-After), and for GET/HEAD transient 5xx and lost connections."""
        waits_429 = 0
        failures = 0
        while True:
            try:
                resp = call()
            except Unavailable as err:
                if not idempotent or failures >= len(RETRY_BACKOFF_S) or not getattr(err, "transient", False):
                    raise
                self.sleep(RETRY_BACKOFF_S[failures])
                failures += 1
                continue
            if resp.status_code == 429 and waits_429 < MAX_429_RETRIES:
                resp.close()
                self.sleep(retry_after(resp.headers.get("Retry-After"), waits_429))
                waits_429 += 1
                continue
            if idempotent and resp.status_code in RETRY_STATUSES and failures < len(RETRY_BACKOFF_S):
                resp.close()
                self.sleep(RETRY_BACKOFF_S[failures])
                failures += 1
                continue
            return resp

    def _transport_error(self, err: Exception | None) -> Unavailable:
        return transport_error(self.host, err)

    def _fetch_token(self, realm: str, params: dict, authorization: str | None) -> dict:
        headers = {"Authorization": authorization} if authorization else {}
        resp = self._retrying(lambda: self._send("GET", realm, headers, params), idempotent=True)
        try:
            if resp.status_code in (401, 403):
                raise PermissionDenied(f"unauthorized: incorrect username or password for {self.host}"
                                       if authorization else f"unauthorized: token server refused access to {self.host}")
            if resp.status_code != 200:
                raise Unavailable(f"token server {realm} for {self.host} answered HTTP {resp.status_code}")
            try:
                doc = resp.json()
            except ValueError as err:
                raise Unavailable(f"token server {realm} for {self.host} sent invalid JSON") from err
            return doc if isinstance(doc, dict) else {}
        finally:
            resp.close()

    # -- manifests, tags, catalog ------------------------------------------------------

    def get_manifest(self, repo: str, reference: str, *, what: str) -> Manifest:
        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}", what=what,
                            scopes=(f"repository:{repo}:pull",), headers={"Accept": ACCEPT}, stream=True)
        try:
            raw = _read_limited(resp, MAX_MANIFEST_BYTES, what)
        finally:
            resp.close()
        return _checked_manifest(raw, resp.headers, reference, what)

    def head_manifest(self, repo: str, reference: str, *, what: str) -> Digest | None:
        resp = self.request("HEAD", f"/v2/{repo}/manifests/{reference}", what=what,
                            scopes=(f"repository:{repo}:pull",), headers={"Accept": ACCEPT}, expect=(200, 404))
        header = resp.headers.get("Docker-Content-Digest")
        return Digest.parse(header) if resp.status_code == 200 and header else None

    def put_manifest(self, repo: str, reference: str, manifest: Manifest, *, what: str) -> Digest:
        resp = self.request("PUT", f"/v2/{repo}/manifests/{reference}", what=what,
                            scopes=(f"repository:{repo}:pull,push",), headers={"Content-Type": manifest.media_type},
                            content=lambda: manifest.raw, expect=(200, 201))
        header = resp.headers.get("Docker-Content-Digest")
        if header and Digest.parse(header) != manifest.digest:
            raise Unavailable(f"{what}: registry stored digest {header}, expected {manifest.digest}")
        return manifest.digest

    def tags(self, repo: str, *, what: str) -> list[str]:
        out: list[str] = []
        for doc in self._pages(f"/v2/{repo}/tags/list?n=1000", what, (f"repository:{repo}:pull",)):
            out += [t for t in doc.get("tags") or [] if isinstance(t, str)]
        return out

    def catalog(self, *, what: str, limit: int = 1000) -> list[str]:
        out: list[str] = []
        for doc in self._pages(f"/v2/_catalog?n={limit}", what, (CATALOG_SCOPE,)):
            out += [r for r in doc.get("repositories") or [] if isinstance(r, str)]
        return out

    def _pages(self, path: str, what: str, scopes: tuple[str, ...]) -> Iterable[dict]:
        next_path: str | None = path
        while next_path:
            resp = self.request("GET", next_path, what=what, scopes=scopes)
            try:
                doc = resp.json()
            except ValueError as err:
                raise Unavailable(f"{what}: registry sent invalid JSON") from err
            yield doc if isinstance(doc, dict) else {}
            link = resp.links.get("next", {}).get("url")
            next_path = link if link and link != next_path else None


def _read_limited(resp: "httpx.Response", limit: int, what: str) -> bytes:
    chunks, total = [], 0
    for chunk in resp.iter_bytes():
        total += len(chunk)
        if total > limit:
            raise Unavailable(f"{what}: manifest larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _checked_manifest(raw: bytes, headers, reference: str, what: str) -> Manifest:
    media_type = media_type_of(raw, headers.get("Content-Type"))
    if media_type in DOCKER_SCHEMA1:
        raise InvalidArgument(f"{what}: Docker image manifest schema 1 is not supported (re-push with a current client)")
    actual = Digest("sha256", __import__("hashlib").sha256(raw).hexdigest())
    expected = None
    if reference.startswith("sha256:"):
        expected = Digest.parse(reference)
    elif headers.get("Docker-Content-Digest", "").startswith("sha256:"):
        expected = Digest.parse(headers["Docker-Content-Digest"])
    if expected is not None and expected != actual:
        raise Unavailable(f"{what}: manifest digest mismatch: expected {expected}, got {actual}")
    return Manifest(media_type, actual, raw)


def retry_after(value: str | None, attempt: int) -> float:
    """Seconds to wait for a 429: Retry-After as seconds or an HTTP date, else backoff."""
    wait = float(2 ** attempt)
    if value:
        value = value.strip()
        if value.isdigit():
            wait = float(value)
        else:
            try:
                wait = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                pass
    return min(max(wait, 0.0), MAX_RETRY_AFTER_S)


def _error_detail(resp: "httpx.Response") -> tuple[str, str]:
    try:
        errors = resp.json().get("errors") or []
        first = errors[0]
        return str(first.get("code", "")), str(first.get("message", "")).strip()
    except (ValueError, AttributeError, IndexError, TypeError):
        return "", ""


def _status_error(resp: "httpx.Response", what: str, had_credentials: bool = False) -> KratError:
    code, message = _error_detail(resp)
    status = resp.status_code
    label = code.lower().replace("_", " ") if code else ""
    detail = f"{label}: {message}" if label and message and message != label else (label or message)
    if status == 401:
        reason = "incorrect username or password" if had_credentials else (message or "authentication required")
        return PermissionDenied(f"{what}: unauthorized: {reason}")
    if status == 403:
        return PermissionDenied(f"{what}: denied: {message or 'requested access to the resource is denied'}")
    if status == 404:
        return NotFound(f"{what}: {detail or 'not found'}")
    if status == 429:
        return Unavailable(f"{what}: too many requests: the registry is rate-limiting (HTTP 429)")
    if status >= 500:
        return Unavailable(f"{what}: registry error HTTP {status}{': ' + detail if detail else ''}")
    return InvalidArgument(f"{what}: registry refused the request: HTTP {status}{': ' + detail if detail else ''}")


def transport_error(host: str, err: Exception | None) -> Unavailable:
    text = str(err) if err else "no usable scheme"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip()
        out = Unavailable(f"cannot verify the TLS certificate of registry {host}: {reason} "
                          f"(put its CA in certs.d/{host}/ca.crt, or use --tls-verify=false)")
        return out
    lowered = text.lower()
    if "wrong_version_number" in lowered or "record layer failure" in lowered or "packet length too long" in lowered:
        return Unavailable(f"registry {host} does not speak TLS (plain HTTP? use --tls-verify=false, "
                           f"or mark it insecure in registries.conf)")
    if "name or service not known" in lowered or "temporary failure in name resolution" in lowered \
            or "no address associated" in lowered or "nodename nor servname" in lowered:
        return Unavailable(f"cannot resolve registry host {host}: no such host")
    transient = True
    if "connection refused" in lowered:
        message = f"cannot connect to registry {host}: connection refused"
    elif "timed out" in lowered or type(err).__name__.endswith("Timeout"):
        message = f"registry {host} did not answer in time"
    else:
        message = f"cannot talk to registry {host}: {text or type(err).__name__}"
    out = Unavailable(message)
    out.transient = transient  # type: ignore[attr-defined]
    return out


def _cert_error(err: Exception) -> bool:
    return "CERTIFICATE_VERIFY_FAILED" in str(err)
