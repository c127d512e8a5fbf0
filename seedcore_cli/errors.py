"""The exception hierarchy: every failure a user can cause, with its exit code and a hint.

Exit codes (README): 0 ok, 1 the operation failed or something is unhealthy, 2 bad usage or bad
input, 3 cannot connect to Ray. The CLI layer maps these to one line on stderr; nothing below it
prints or exits.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CANNOT_CONNECT = 3


class SeedcoreError(Exception):
    """Base class: a message for the user, a hint for what to do, and an exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class OperationFailed(SeedcoreError):
    """The operation was attempted and did not succeed."""


class ActorConflict(OperationFailed):
    """A name is held by an actor of another class; nothing was replaced."""


class ConnectionConflict(OperationFailed):
    """connect() was asked for another target or namespace while already connected."""


class BadInput(SeedcoreError):
    """A flag, environment value or file the user supplied is invalid."""

    exit_code = EXIT_BAD_INPUT


class SettingsError(BadInput):
    """An address, namespace or .env value is malformed."""


class ConfigError(BadInput):
    """The organism config file is invalid."""


class CannotConnect(SeedcoreError):
    """Ray could not be reached or refused the connection."""

    exit_code = EXIT_CANNOT_CONNECT


class Unreachable(CannotConnect):
    """Nothing answers on the target port."""


class NoCluster(CannotConnect):
    """No address was configured and no cluster runs on this machine."""


class DashboardUnavailable(CannotConnect):
    """The Ray dashboard (State API) did not answer."""
