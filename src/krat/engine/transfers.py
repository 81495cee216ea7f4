"""Progress of registry transfers, as events a front end renders (CLI bars, API JSON stream).

Events come from worker threads; a listener must be thread-safe. The statuses are
Docker's own words, so the REST API can pass them through unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Status(enum.Enum):
    WAITING = "Waiting"
    PULLING_FS_LAYER = "Pulling fs layer"
    DOWNLOADING = "Downloading"
    DOWNLOAD_COMPLETE = "Download complete"
    ALREADY_EXISTS = "Already exists"
    EXTRACTING = "Extracting"
    PULL_COMPLETE = "Pull complete"
    PREPARING = "Preparing"
    COMPRESSING = "Compressing"
    PUSHING = "Pushing"
    PUSHED = "Pushed"
    LAYER_EXISTS = "Layer already exists"
    MOUNTED = "Mounted from"
    RETRYING = "Retrying"


@dataclass(frozen=True)
class Event:
    id: str                 # the blob's short digest (12 hex), as Docker prints it
    status: Status
    current: int = 0
    total: int = 0
    detail: str = ""        # e.g. the repository a layer was mounted from


Listener = Callable[[Event], None]


def ignore(_: Event) -> None:
    pass
