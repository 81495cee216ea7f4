"""The error classes of krat, named for what the caller should do.

    KratError                    exit 125 unless a subclass says otherwise
    ├── InvalidArgument          the user's input is wrong (flag, file, reference)
    ├── NotFound                 the named thing does not exist
    ├── AlreadyExists            the name or id is taken
    ├── Conflict                 the thing is in a state that forbids the operation
    ├── PermissionDenied         the kernel or the filesystem said no
    ├── Unavailable              a peer (registry, runtime, network) cannot be reached
    ├── Internal                 a bug or a broken invariant in krat itself
    └── ContainerCommandError    the container's command could not be started
        ├── CommandCannotRun     exit 126: found but not executable
        └── CommandNotFound      exit 127: no such file in the container

Front ends turn these into exit codes (cli) and HTTP statuses (api), each in one
place. Every message is one line that names the thing and, for files, file:line.
"""

from __future__ import annotations


class KratError(Exception):
    """Base of every error krat reports to a user."""

    exit_code = 125
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(KratError):
    http_status = 400


class NotFound(KratError):
    http_status = 404


class AlreadyExists(KratError):
    http_status = 409


class Conflict(KratError):
    http_status = 409


class PermissionDenied(KratError):
    http_status = 403


class Unavailable(KratError):
    http_status = 503


class Internal(KratError):
    http_status = 500


class ContainerCommandError(KratError):
    """The container was set up but its command could not be executed."""

    http_status = 400


class CommandCannotRun(ContainerCommandError):
    exit_code = 126


class CommandNotFound(ContainerCommandError):
    exit_code = 127
