"""Registry credentials in Docker's config.json format (`{"auths": {host: {"auth": b64}}}`).

krat writes $REGISTRY_AUTH_FILE, else $XDG_CONFIG_HOME/krat/auth.json (mode 0600), and reads
that file first, then Docker's ($DOCKER_CONFIG/config.json or ~/.docker/config.json). A
`credHelpers`/`credsStore` entry runs `docker-credential-<name> get`, as Docker does.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from pathlib import Path

from krat.errors import InvalidArgument, PermissionDenied
from krat.registry.auth import Credentials
from krat.registry.hosts import DOCKER_HUB, DOCKER_HUB_API, DOCKER_HUB_AUTH_KEY, config_home

_HUB_KEYS = {DOCKER_HUB, DOCKER_HUB_API, "index.docker.io", DOCKER_HUB_AUTH_KEY}


def auth_file() -> Path:
    env = os.environ.get("REGISTRY_AUTH_FILE")
    return Path(env) if env else config_home() / "auth.json"


def docker_config_file() -> Path:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(base) / "config.json"


def normalise_key(key: str) -> str:
    """'https://host:5000/v1/' -> 'host:5000'; every Docker Hub spelling -> 'docker.io'."""
    if key in _HUB_KEYS:
        return DOCKER_HUB
    text = key.split("://", 1)[-1].split("/", 1)[0]
    return DOCKER_HUB if text in _HUB_KEYS else text


def storage_key(server: str) -> str:
    """The key Docker itself writes: Hub credentials live under its legacy v1 URL."""
    host = normalise_key(server)
    return DOCKER_HUB_AUTH_KEY if host == DOCKER_HUB else host


def _read(path: Path) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise PermissionDenied(f"{path}: {err.strerror}") from err
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise InvalidArgument(f"{path}: not valid JSON: {err}") from err
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{path}: expected a JSON object")
    return doc


def _decode(entry: dict, path: Path, key: str) -> Credentials | None:
    if entry.get("identitytoken"):
        return Credentials("<token>", entry["identitytoken"])
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidArgument(f"{path}: bad auth entry for {key}") from err
        return Credentials(user, password)
    if entry.get("username"):
        return Credentials(entry["username"], entry.get("password", ""))
    return None


def lookup(host: str) -> Credentials | None:
    """Credentials for a registry host (reference domain, e.g. 'docker.io', '127.0.0.1:5000')."""
    want = normalise_key(host)
    for path in (auth_file(), docker_config_file()):
        doc = _read(path)
        helper = (doc.get("credHelpers") or {}).get(want) or (doc.get("credHelpers") or {}).get(storage_key(want))
        if helper:
            return _from_helper(helper, storage_key(want))
        for key, entry in (doc.get("auths") or {}).items():
            if normalise_key(key) == want and isinstance(entry, dict):
                creds = _decode(entry, path, key)
                if creds:
                    return creds
        if doc.get("credsStore") and path != auth_file():
            found = _from_helper(doc["credsStore"], storage_key(want), missing_ok=True)
            if found:
                return found
    return None


def _from_helper(name: str, server: str, missing_ok: bool = False) -> Credentials | None:
    try:
        proc = subprocess.run([f"docker-credential-{name}", "get"], input=server, capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        if missing_ok:
            return None
        raise PermissionDenied(f"credential helper docker-credential-{name}: {err}") from err
    if proc.returncode != 0:
        if missing_ok or "credentials not found" in proc.stdout + proc.stderr:
            return None
        raise PermissionDenied(f"credential helper docker-credential-{name}: {proc.stderr.strip() or proc.stdout.strip()}")
    try:
        doc = json.loads(proc.stdout)
        return Credentials(doc["Username"], doc["Secret"])
    except (ValueError, KeyError, TypeError) as err:
        raise PermissionDenied(f"credential helper docker-credential-{name}: bad output") from err


def store(host: str, creds: Credentials) -> Path:
    path = auth_file()
    doc = _read(path)
    auths = {k: v for k, v in (doc.get("auths") or {}).items() if normalise_key(k) != normalise_key(host)}
    raw = f"{creds.username}:{creds.password}".encode()
    auths[storage_key(host)] = {"auth": base64.b64encode(raw).decode()}
    doc["auths"] = auths
    _write(path, doc)
    return path


def remove(host: str) -> bool:
    """Forget a host's credentials in krat's file; False when there were none."""
    path = auth_file()
    doc = _read(path)
    auths = doc.get("auths") or {}
    kept = {k: v for k, v in auths.items() if normalise_key(k) != normalise_key(host)}
    if len(kept) == len(auths):
        return False
    doc["auths"] = kept
    _write(path, doc)
    return True


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".auth-", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
