"""What Ray's errors from `ray.init` mean, in one line each with a fix (connection.py raises them).

- client_start_failure(err): a Ray Client proxy that could not start this client's server:
  'transient' (retry), 'setup' (the server cannot set this session up: usually another Ray
  version), or '' (not that kind of failure).
- session_refused / overloaded: the errors for those two ends.
- explain_init_error(err): everything else Ray raises, mapped to seedcore's errors: version
  mismatch (with both versions), token authentication, timeouts, no cluster; a server-side
  traceback folded into its last line.
"""

from __future__ import annotations

import re

from seedcore_cli.errors import (
    AuthenticationFailed,
    CannotConnect,
    NoCluster,
    Unreachable,
    VersionMismatch,
    fold,
    traceback_tail,
)
from seedcore_cli.ray_boundary import auth, preflight, versions
from seedcore_cli.settings import Settings

CONNECT_TIMEOUT_ENV = "SEEDCORE_CONNECT_TIMEOUT"

# What a Ray Client proxy answers when the dedicated server it starts for each client failed to
# come up ("Initialization failure from server", "Starting Ray client server failed", "Proxy
# failed to Connect to backend"): transient under load, or on a fresh TLS head, so worth another
# try. The exception the server raised (the last line of its traceback) tells that apart from a
# session it cannot set up at all: another Ray version failing to read our session setup.
_CLIENT_START_FAILURES = ("initialization failure from server", "starting ray client server failed",
                          "proxy failed to connect to backend", "on the server failed")
_SESSION_SETUP_FAILURES = ("attributeerror", "importerror", "modulenotfounderror", "unpicklingerror",
                           "unexpected keyword argument", "version")


def client_start_failure(err: Exception) -> str:
    """'transient', 'setup' (the server cannot set this session up), or '' (not this kind)."""
    text = str(err).lower()
    if not any(marker in text for marker in _CLIENT_START_FAILURES):
        return ""
    tail = traceback_tail(str(err)).lower() if "traceback" in text else ""
    return "setup" if any(marker in tail for marker in _SESSION_SETUP_FAILURES) else "transient"


def session_refused(err: Exception, settings: Settings, address: str) -> CannotConnect:
    source = settings.address.source if settings.address else "default"
    here_ray, here_python = versions.local_versions()
    return CannotConnect(
        f"the Ray Client server at {address} (from {source}) could not set up this session: "
        f"{fold(traceback_tail(str(err)), 200)}",
        f"this usually means the cluster runs another Ray version than this seedcore (Ray {here_ray}, Python "
        f"{here_python}), and Ray Client needs the same Ray and Python minor version: compare with "
        "`RAY_ADDRESS=HOST:6379 seedcore diagnose` (the cluster's GCS address tells its versions)",
    )


def overloaded(address: str, settings: Settings, attempts: int, waited_s: float) -> CannotConnect:
    source = settings.address.source if settings.address else "default"
    return CannotConnect(
        f"the Ray Client proxy at {address} (from {source}) could not start a server for this client "
        f"in {attempts} tries over {waited_s:.0f} s: the head is overloaded with Ray Client sessions",
        "run fewer concurrent clients, give the head more CPU, or use the GCS address (HOST:6379, "
        f"driver mode) from inside the cluster; or wait longer ({CONNECT_TIMEOUT_ENV})",
    )


_VERSIONS = re.compile(r"Ray:\s*(\S+)\s+Python:\s*(\S+)", re.IGNORECASE)


def explain_init_error(err: Exception, settings: Settings, address: str) -> CannotConnect:
    text = str(err).strip()
    # One line, but keep what Ray said on later lines (e.g. a client server's init failure).
    folded = fold(text, 400) or type(err).__name__
    source = settings.address.source if settings.address else "default"
    lowered = text.lower()
    if "version mismatch" in lowered or "python minor versions differ" in lowered:
        found = _VERSIONS.findall(text)  # Ray's text: the cluster's versions, then this process's
        if len(found) >= 2:
            return preflight.version_mismatch(f"{address} (from {source})", found[0], found[1])
        return VersionMismatch(f"Ray version mismatch connecting to {address} (from {source}): {folded}",
                               "install the cluster's Ray and Python versions here (drivers need the exact "
                               "same, Ray Client the same Ray and Python minor version)")
    if "unauthenticated" in lowered or "authentication token" in lowered:
        return AuthenticationFailed(
            f"Ray at {address} (from {source}) refused the connection: token authentication failed",
            auth.HOW_TO_GET,
        )
    if "starting ray client server failed" in lowered:
        return CannotConnect(
            f"the Ray Client proxy at {address} (from {source}) could not start a server for this "
            "client",
            "retry; if it persists, read ray_client_server_*.err in the head's session logs (clusters "
            "sharing a machine also share the per-client port range 23000-24000)",
        )
    if "timeout" in lowered or "timed out" in lowered:
        return Unreachable(
            f"timed out connecting to Ray at {address} (from {source})",
            "check the address and that the head is healthy",
        )
    if "could not find any running ray instance" in lowered:
        return NoCluster(
            f"no running Ray instance at {address} (from {source})",
            "start one with `seedcore cluster start` or set RAY_ADDRESS",
        )
    if "traceback (most recent call last)" in lowered:
        folded = fold(traceback_tail(text), 400)
    return CannotConnect(f"cannot connect to Ray at {address} (from {source}): {folded}",
                         "run `seedcore diagnose` for a full check of this target")
