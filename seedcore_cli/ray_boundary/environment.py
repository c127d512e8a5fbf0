"""The one module that changes this process's environment: what Ray must find there when it is
imported or initialised.

Ray reads several settings from the environment of the process that imports it, and only then:
the loopback switch, token mode and the token, its C++ core's log level. connect() asks this
module to set them just before `import ray`; nothing else in seedcore writes to os.environ.

Invariants: every variable changed here is recorded with the value the user had, first time
only, so `user_environment()` is the environment as the user set it, whatever seedcore changed
since (connect() hands it to the Connection; diagnose reports the user's values, not seedcore's);
`restore_token_mode()` gives the process back the user's own RAY_AUTH_MODE / RAY_AUTH_TOKEN (a
failed connect, or disconnect()). Values the user set for Ray's log level and task events are kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
TASK_EVENTS_ENV = "RAY_task_events_report_interval_ms"
BACKEND_LOG_LEVEL_ENV = "RAY_BACKEND_LOG_LEVEL"
GRPC_VERBOSITY_ENV = "GRPC_VERBOSITY"
AUTH_MODE_ENV = "RAY_AUTH_MODE"
AUTH_TOKEN_ENV = "RAY_AUTH_TOKEN"

# name -> the user's value before seedcore changed it (None: unset); private to this module.
_replaced: dict[str, str | None] = {}


def _set(name: str, value: str) -> None:
    _replaced.setdefault(name, os.environ.get(name))
    os.environ[name] = value


def _set_default(name: str, value: str) -> None:
    if name not in os.environ:
        _set(name, value)


def quiet_grpc() -> None:
    """Keep gRPC's C core INFO lines (a failed handshake, say) off the user's stderr, unless the
    user asked for them: before grpc is first imported (the probes)."""
    _set_default(GRPC_VERBOSITY_ENV, "ERROR")


def prepare_ray_import(loopback: bool) -> None:
    """What Ray reads when it is imported and initialised; call it just before `import ray`.

    loopback: the target is 127.0.0.1/localhost. Ray rewrites loopback addresses to the
    network IP unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, and a driver then hangs connecting to
    the GCS: forced to 0, even over an explicit "1" (with it, ray.init on 127.0.0.1 can only hang).
    """
    if loopback:
        _set(LOOPBACK_ENV, "0")
    # seedcore's driver runs a few status probes and exits; reporting their task events to the
    # dashboard is not worth it, and flushing them makes every ray.shutdown() wait ~0.25 s.
    _set_default(TASK_EVENTS_ENV, "0")
    # Ray's C++ core writes WARNING/INFO lines (gcs_client.cc retries) straight to stderr; a
    # CLI's user sees errors only (RAY_BACKEND_LOG_LEVEL=info brings them back).
    _set_default(BACKEND_LOG_LEVEL_ENV, "error")


def enable_token_mode(token_value: str) -> None:
    """Make this process's Ray send exactly this token (RAY_AUTH_MODE=token, RAY_AUTH_TOKEN).

    Must run before ray is imported (Ray reads the mode at import); connect() calls it after a
    probe has shown the cluster accepts the token. The token is never printed.
    """
    _set(AUTH_MODE_ENV, "token")
    _set(AUTH_TOKEN_ENV, token_value)


def restore_token_mode() -> None:
    """Undo enable_token_mode(): the user's own RAY_AUTH_MODE and RAY_AUTH_TOKEN again."""
    for name in (AUTH_MODE_ENV, AUTH_TOKEN_ENV):
        if name in _replaced:
            _put_back(os.environ, name, _replaced.pop(name))


def user_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (default: this process's) as the user set it, without seedcore's changes."""
    user = dict(os.environ if environ is None else environ)
    for name, value in _replaced.items():
        _put_back(user, name, value)
    return user


def _put_back(environ: dict[str, str] | os._Environ[str], name: str, value: str | None) -> None:
    if value is None:
        environ.pop(name, None)
    else:
        environ[name] = value
