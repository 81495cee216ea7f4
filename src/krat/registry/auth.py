"""Registry authentication: anonymous, HTTP basic and the bearer-token flow.

The flow (distribution's token spec): a request answered 401 carries
`WWW-Authenticate: Bearer realm="...",service="...",scope="..."`; the client asks the
realm for a token for the scopes it needs (with basic credentials if it has any) and
retries with `Authorization: Bearer <token>`. Tokens are cached per set of scopes until
they expire; once a host has challenged, later requests carry the header up front.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from krat.errors import PermissionDenied, Unavailable

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
MIN_TOKEN_LIFETIME_S = 60  # the token spec's default when expires_in is absent


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str  # or an identity token when username is "<token>"

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower-case: "basic" or "bearer"
    params: dict[str, str] = field(default_factory=dict, hash=False)


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate value; quoted values may contain commas."""
    out: list[Challenge] = []
    rest = header.strip()
    while rest:
        rest = rest.lstrip(" ,")
        match = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", rest)
        if not match:
            break
        scheme = match[1].lower()
        rest = rest[match.end():]
        params: dict[str, str] = {}
        while rest:
            pm = _PARAM.match(rest)
            if not pm or re.match(r"[A-Za-z][A-Za-z0-9_-]*\s+[A-Za-z]", rest):
                break
            value = pm[2]
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[pm[1].lower()] = value
            rest = rest[pm.end():]
        out.append(Challenge(scheme, params))
    return out


def repository_scope(path: str, actions: str = "pull") -> str:
    return f"repository:{path}:{actions}"


@dataclass
class _Token:
    value: str
    expires: float


TokenFetcher = Callable[[str, dict[str, list[str] | str], str | None], dict]


class Authenticator:
    """Per-host auth state: which scheme the host wants, and cached bearer tokens by scope.

    `fetch(url, params, authorization) -> JSON dict` performs the token request; the
    client provides it so this module does no I/O of its own (tests pass a fake).
    """

    def __init__(self, host: str, credentials: Credentials | None, fetch: TokenFetcher,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.host = host
        self.credentials = credentials
        self._fetch = fetch
        self._clock = clock
        self._challenge: Challenge | None = None
        self._tokens: dict[frozenset[str], _Token] = {}
        self._lock = threading.Lock()

    def learn(self, header: str | None) -> None:
        """Remember the scheme a host announced (on the ping), without fetching anything yet."""
        usable = [c for c in parse_challenges(header or "") if c.scheme in ("bearer", "basic")]
        if usable:
            self._challenge = next((c for c in usable if c.scheme == "bearer"), usable[0])

    @property
    def scheme(self) -> str | None:
        return self._challenge.scheme if self._challenge else None

    def header(self, scopes: tuple[str, ...]) -> str | None:
        """The Authorization value to send up front, if this host has challenged before."""
        ch = self._challenge
        if ch is None:
            return None
        if ch.scheme == "basic":
            return self.credentials.basic() if self.credentials else None
        if ch.scheme == "bearer":
            token = self._cached(frozenset(scopes))
            return f"Bearer {token}" if token else None
        return None

    def challenged(self, header: str | None, scopes: tuple[str, ...]) -> str | None:
        """A 401 arrived: learn the scheme and return the Authorization to retry with (or None)."""
        challenges = parse_challenges(header or "")
        usable = [c for c in challenges if c.scheme in ("bearer", "basic")]
        if not usable:
            return None
        ch = next((c for c in usable if c.scheme == "bearer"), usable[0])
        self._challenge = ch
        if ch.scheme == "basic":
            return self.credentials.basic() if self.credentials else None
        wanted = set(scopes)
        if ch.params.get("scope"):
            wanted.update(ch.params["scope"].split(" "))
        key = frozenset(scopes)
        return f"Bearer {self._token(ch, key, sorted(wanted))}"

    def _cached(self, key: frozenset[str]) -> str | None:
        tok = self._tokens.get(key)
        if tok and tok.expires > self._clock():
            return tok.value
        if self._challenge is not None and self._challenge.scheme == "bearer":
            return self._token(self._challenge, key, sorted(key))
        return None

    def _token(self, ch: Challenge, key: frozenset[str], scopes: list[str]) -> str:
        with self._lock:
            tok = self._tokens.get(key)
            if tok and tok.expires > self._clock():
                return tok.value
            realm = ch.params.get("realm")
            if not realm:
                raise Unavailable(f"registry {self.host} sent a bearer challenge without a realm")
            params: dict[str, list[str] | str] = {}
            if ch.params.get("service"):
                params["service"] = ch.params["service"]
            if scopes:
                params["scope"] = scopes
            if self.credentials and self.credentials.username != "<token>":
                params["account"] = self.credentials.username
            authz = self.credentials.basic() if self.credentials else None
            doc = self._fetch(realm, params, authz)
            value = doc.get("token") or doc.get("access_token")
            if not isinstance(value, str) or not value:
                raise PermissionDenied(f"token server {realm} for {self.host} returned no token")
            lifetime = doc.get("expires_in")
            lifetime = lifetime if isinstance(lifetime, int) and lifetime > 0 else MIN_TOKEN_LIFETIME_S
            # Refresh a little early so a token never expires in flight.
            self._tokens[key] = _Token(value, self._clock() + max(lifetime - 10, 5))
            return value
