"""Helpers for the registry tests (import as `from regsupport import ...`)."""

from __future__ import annotations

from pathlib import Path

USER, PASSWORD = "kratuser", "s3cret-pass"


def push_raw(host: str, repo: str, img, tag: str = "v1", creds=None) -> None:
    """Put a synthetic image straight into a registry (test setup, independent of krat's store)."""
    import io

    from krat.registry import blobs
    from krat.registry.client import RegistryClient
    from krat.registry.hosts import RegistriesConfig, endpoint_for

    with RegistryClient(endpoint_for(host, RegistriesConfig()), creds) as client:
        for desc, data in img.blobs():
            blobs.upload(client, repo, desc, lambda data=data: io.BytesIO(data))
        client.put_manifest(repo, tag, img.manifest, what=repo)


def store_state(root: Path) -> tuple:
    """Blobs, layer dirs and image rows of a krat root: equal before and after a failed pull."""
    import sqlite3

    blobs = sorted(p.name for p in (root / "content" / "blobs" / "sha256").glob("*")) \
        if (root / "content" / "blobs").exists() else []
    # layer dirs, plus whatever sits in the store's scratch dirs (.tmp, .trash): those must be empty
    layers = sorted(str(p.relative_to(root)) for p in (root / "layers").glob("*") if not p.name.startswith(".")) \
        + sorted(str(p.relative_to(root)) for p in (root / "layers").glob(".*/*"))
    rows: list = []
    db = root / "krat.db"
    if db.exists():
        conn = sqlite3.connect(db)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in ("images", "tags", "repo_digests", "image_layers", "layers"):
                if table in tables:
                    rows.append((table, sorted(map(tuple, conn.execute(f"SELECT * FROM {table}")))))
        finally:
            conn.close()
    return blobs, layers, rows
