"""The exception hierarchy: every failure a user can cause, with its exit code and a hint.

Exit codes (README, "Exit codes"): 0 ok, 1 the operation failed or something is unhealthy, 2 bad usage or bad
input, 3 cannot connect to Ray. The CLI layer maps these to one line on stderr; nothing below it
prints or exits. Also how values read in those messages: `Word` (enums that print as their value),
`first_of`, `quoted`, `fold`.
"""

from __future__ import annotations

import re
from enum import Enum

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


class AuthenticationFailed(CannotConnect):
    """The cluster demands a token that is missing here or that it refused."""


class TlsMismatch(CannotConnect):
    """The cluster and this process disagree about TLS, or its certificate is not trusted."""


class VersionMismatch(CannotConnect):
    """The cluster runs a Ray or Python version this process cannot connect to."""

    def __init__(self, message: str, hint: str = "", cluster: tuple[str, str] = ("", ""),
                 here: tuple[str, str] = ("", "")) -> None:
        super().__init__(message, hint)
        self.cluster = cluster  # (Ray, Python) of the cluster; '' where unknown
        self.here = here


class NoCluster(CannotConnect):
    """No address was configured and no cluster runs on this machine."""


class DashboardUnavailable(CannotConnect):
    """The Ray dashboard (State API) did not answer."""


class ClusterLost(CannotConnect):
    """The connection to the cluster broke in the middle of the work (Ray's ConnectionError)."""


class ActorCallFailed(OperationFailed):
    """An actor call (or create) failed; the message is Ray's error as one clean line. The Ray
    boundary (ray_boundary/cluster.py) raises these and only these for actor calls."""


class ActorDied(ActorCallFailed):
    """The actor is gone for good (Ray's RayActorError that is not a restart)."""


class ActorRestarting(ActorCallFailed):
    """Ray is restarting the actor (ActorUnavailableError): it may answer again soon."""


class CallTimedOut(ActorCallFailed):
    """The call did not answer in time (Ray's GetTimeoutError)."""


class NameTaken(ActorCallFailed):
    """A create lost the race: another process created an actor of that name an instant before."""


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_REPR = re.compile(r"<[A-Za-z_][\w.]* object at 0x[0-9a-fA-F]+>")
_REPR_FIELD = re.compile(r",?\s*repr=<[^>]*>")


def fold(text: str, limit: int = 300) -> str:
    """Ray's (often multi-line, coloured) error text as one clean line of at most `limit` chars:
    no ANSI codes, no object reprs, lines joined with ' / ', long values cut with '...'."""
    text = _REPR.sub("<object>", _REPR_FIELD.sub("", _ANSI.sub("", text)))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    joined = " / ".join(line for line in lines if line)
    return joined if len(joined) <= limit else joined[: limit - 3].rstrip() + "..."


QUOTE_LIMIT = 80


class Word(str, Enum):
    """A str-valued enum that prints as its value (Python 3.10 has no StrEnum): tables, JSON and
    messages show the word, and comparing with a plain string still works."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


def first_of(items: list[str] | tuple[str, ...], shown: int, sep: str = ", ") -> str:
    """The first `shown` items joined with `sep`, and how many more there are: 'a, b and 3 more'
    ('a; b; and 3 more' with sep '; ')."""
    listed = sep.join(items[:shown])
    if len(items) <= shown:
        return listed
    return listed + ("; " if sep.strip() == ";" else " ") + f"and {len(items) - shown} more"


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A user's value as messages quote it: its repr (control characters and spaces show, the
    line stays one line), cut to about `limit` characters with '...' and the original length, so a
    5,000-character flag does not make a 5,000-character error line."""
    if not isinstance(value, str) and len(repr(value)) <= limit:
        return repr(value)  # a number or a short structure shows as it was written
    text = str(value)
    if len(repr(text)) <= limit + 2:
        return repr(text)
    cut = text[:limit]
    while len(repr(cut)) > limit + 2:  # escapes (binary junk) make a repr up to 4x longer
        cut = cut[: len(cut) * 3 // 4]
    return f"{cut!r}... ({len(text)} characters)"


def bare(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Text that messages show unquoted (a URL, a place in a file) as it is when it is short and
    printable, else quoted() (cut, and on one line)."""
    return text if len(text) <= limit and text.isprintable() else quoted(text, limit)


def traceback_tail(text: str) -> str:
    """The last meaningful line of a server-side traceback Ray forwards ('X: message')."""
    lines = [line.strip() for line in _ANSI.sub("", text).splitlines() if line.strip()]
    for line in reversed(lines):
        if not line.startswith(("File ", "Traceback", "^", "~")) and not line.endswith(":"):
            return line
    return lines[-1] if lines else ""
