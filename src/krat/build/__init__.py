"""Dockerfile to image: parser, expansion, context/.dockerignore, cache keys, builder.

Imports engine, store, db, runtime (below it); nothing above. For other front ends
(the REST API's POST /build, compose's `build:`):

    from krat.build import build_image
    from krat.build.progress import PlainProgress
    image_id = build_image(paths, "ctxdir", tags=["app:1"], dockerfile="Dockerfile.dev",
                           build_args={"V": "1"}, target=None, no_cache=False, pull=False,
                           labels={}, progress=PlainProgress(stream, explain=True))

`location` is a directory, a tar archive path, or "-" with `stdin` (a tar stream or a
Dockerfile). Errors are KratError subclasses whose message starts with Dockerfile:LINE.
For `POST /build`, pass `progress=JsonStreamProgress(emit)` (krat.build.progress): it
emits Docker's {"stream": ...} messages; then call its finished(id, tags) or error(msg).

The pure parts stand alone: krat.build.dockerfile.parse(text) -> [Instruction];
krat.build.expand (Dockerfile variable substitution); krat.build.dockerignore;
krat.build.cache (keys and miss explanations).
"""

from __future__ import annotations

import sys
from typing import BinaryIO


def build_image(paths, location: str, *, tags: list[str] | None = None, dockerfile: str | None = None,
                build_args: dict[str, str] | None = None, target: str | None = None, no_cache: bool = False,
                pull: bool = False, labels: dict[str, str] | None = None, network: str = "default",
                progress=None, stdin: BinaryIO | None = None, secrets: dict[str, bytes] | None = None,
                volumes: list[tuple[str, str, bool]] | None = None, run_env: dict[str, str] | None = None) -> str:
    """Build and tag an image; returns its id. Nothing is left behind on failure."""
    from pathlib import Path

    from krat.build.builder import Builder
    from krat.build.progress import QuietProgress
    from krat.build.source import open_source
    from krat.build.state import BuildRequest
    from krat.build.storebackend import StoreBackend
    from krat.db import open_database
    from krat.oci.reference import parse_reference

    names = [str(parse_reference(t)) for t in tags or []]
    source = open_source(location, dockerfile, stdin or sys.stdin.buffer, Path(paths.tmp, "build"))
    progress = progress or QuietProgress(sys.stderr)
    try:
        db = open_database(paths.db)
        request = BuildRequest(source.dockerfile, source.context, source.filename, names, dict(build_args or {}),
                               target, no_cache, pull, dict(labels or {}), network,
                               remember_digests=source.temp is None, secrets=dict(secrets or {}),
                               volumes=list(volumes or []), run_env=dict(run_env or {}))
        return Builder(StoreBackend(paths, db), db, progress).build(request).image_id
    finally:
        progress.close()
        source.close()
