"""The one client of Ray's State API (the dashboard's REST API): where it is, the token, and one
HTTP helper that turns every failure into seedcore's errors.

Why REST and not `ray.util.state`: in a process connected through Ray Client, Ray's State API
helpers read RAY_ADDRESS and call `ray.init` again, which raises "Ray Client is already
connected". This module asks the dashboard directly with the standard library: no second
connection, no `import ray`, no Typer or Rich.

- `dashboard_url_for(connection)`: RAY_API_SERVER_ADDRESS (as Ray's tooling honours it), else
  the dashboard the cluster reported.
- `get_json(url, params, ...)`: one GET; refused, timed out, not HTTP, 401/403, 404, not JSON,
  an error answer: each a SeedcoreError with its exit code (DashboardUnavailable and
  CannotConnect: 3; OperationFailed: 1; a malformed URL: BadInput, 2).
- `fetch_actors(url, filters, ...)`: `GET /api/v0/actors` as `StateApiClient.list()` sends it.
- `check_dashboard(url)`: does the State API answer (never raises; for diagnose).
- `authentication_mode(url)`: the dashboard's unauthenticated /api/authentication_mode.

Token: sent as `Authorization: Bearer <token>` (auth.find_token: Ray's order; connect() puts the
token it checked in RAY_AUTH_TOKEN). It never appears in messages.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seedcore_cli.errors import BadInput, CannotConnect, DashboardUnavailable, OperationFailed, bare, fold, quoted
from seedcore_cli.ray_boundary import auth

if TYPE_CHECKING:  # the connection module imports ray lazily; we only read its fields
    from seedcore_cli.ray_boundary.connection import Connection

API_SERVER_ENV = "RAY_API_SERVER_ADDRESS"
DEFAULT_TIMEOUT_S = 30
ACTORS_ENDPOINT = "/api/v0/actors"
JOBS_ENDPOINT = "/api/v0/jobs"
MAX_LIMIT = 10_000
_SERVER_LIMIT_RE = re.compile(r"exceeds the supported limit (\d+)")


@dataclass(frozen=True)
class DashboardCheck:
    """Whether the State API answers at `url` (for `diagnose`)."""

    url: str
    ok: bool
    detail: str  # 'HTTP 200, 12 actors' or why not
    seconds: float
    hint: str = ""


def dashboard_url_for(connection: Connection, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(State API base URL, where it came from); url '' when the cluster reported no dashboard."""
    environ = os.environ if environ is None else environ
    override = environ.get(API_SERVER_ENV, "").strip()
    if override:
        url = override if "://" in override else f"http://{override}"
        return url.rstrip("/"), API_SERVER_ENV
    url = (connection.dashboard_url or "").strip()
    if url and "://" not in url:
        url = f"http://{url}"
    return url.rstrip("/"), "the cluster"


def auth_token(environ: Mapping[str, str]) -> str | None:
    """The token to send: only in token mode (connect() turns it on, with the token it checked in
    RAY_AUTH_TOKEN, when the cluster demands one; or the user set RAY_AUTH_MODE=token). A token
    is never sent to a dashboard that did not ask for one."""
    if not auth.token_mode_on(environ):
        return None
    token = auth.find_token(environ)
    return token.value if token else None


def headers(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    found = {"Accept": "application/json"}
    token = auth_token(os.environ if environ is None else environ)
    if token:
        found["Authorization"] = f"Bearer {token}"
    return found


def no_dashboard() -> DashboardUnavailable:
    return DashboardUnavailable(
        "the cluster reports no dashboard, and listing actors needs its State API",
        "start the head with the dashboard (`ray start --head --include-dashboard=true`, "
        f"needs ray[default]), or set {API_SERVER_ENV}=http://HOST:8265",
    )


def get_json(url: str, params: list[tuple[str, Any]], timeout: float, source: str,
             environ: Mapping[str, str] | None = None, envelope: bool = True) -> Any:
    """GET a dashboard endpoint or raise a SeedcoreError. envelope: it is a State API list
    endpoint ({"result": true, "data": {"result": {...}}}): return that inner result dict;
    otherwise return the decoded JSON as it is."""
    query = urllib.parse.urlencode(params)
    full = f"{url}?{query}" if query else url
    where = url.split("/api/", 1)[0]
    where = bare(where)  # RAY_API_SERVER_ADDRESS may be anything
    from_where = f" (from {source})" if source != "the cluster" else ""
    _check_url(url, from_where)
    unreachable_hint = (
        f"check that the dashboard runs and is reachable from here (it binds to 127.0.0.1 by "
        f"default: start the head with --dashboard-host, or set {API_SERVER_ENV}=http://HOST:PORT)"
    )
    request = urllib.request.Request(full, headers=headers(environ), method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
        body = err.read() or b""
        if status in (401, 403):
            raise CannotConnect(
                f"the Ray dashboard at {where}{from_where} refused the request: "
                f"{'authentication required' if status == 401 else 'invalid authentication token'} "
                f"(HTTP {status})",
                "the dashboard wants the cluster's token: " + auth.HOW_TO_GET,
            ) from None
        if status == 404:
            raise DashboardUnavailable(
                f"{where}{from_where} has no State API ({'/api/' + url.split('/api/', 1)[-1]} answered HTTP 404)",
                "point at the Ray dashboard (default port 8265) of a Ray >= 2.0 cluster",
            ) from None
    except http.client.HTTPException as err:  # BadStatusLine & co: the port does not speak HTTP
        raise DashboardUnavailable(
            f"{where}{from_where} answers, but not with HTTP ({type(err).__name__})",
            "point at the Ray dashboard's HTTP port (default 8265), not a GCS or Ray Client port",
        ) from None
    except ValueError as err:  # what _check_url cannot see: a header (the token) http.client refuses
        raise BadInput(f"the request to {where}{from_where} cannot be sent ({fold(str(err), 80)})",
                       "check RAY_AUTH_TOKEN (or the token file): one line of text") from None
    except (TimeoutError, urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
            text = f"did not answer within {timeout:g} s"
        else:
            text = f"is unreachable ({reason})"
        raise DashboardUnavailable(f"the Ray dashboard at {where}{from_where} {text}",
                                   unreachable_hint) from None
    try:
        payload = json.loads(body)
    except ValueError:
        raise DashboardUnavailable(
            f"{where}{from_where} answered HTTP {status} but not with the State API's JSON",
            "point at the Ray dashboard (default port 8265)",
        ) from None
    if not envelope:
        return payload
    if not isinstance(payload, dict) or payload.get("result") is not True:
        msg = payload.get("msg") if isinstance(payload, dict) else None
        raise OperationFailed(
            f"the Ray State API at {where} refused the query (HTTP {status}): {fold(str(msg or 'no reason given'), 300)}",
            "see dashboard.log on the head",
        )
    result = (payload.get("data") or {}).get("result")
    if not isinstance(result, dict) or not isinstance(result.get("result"), list):
        raise OperationFailed(f"the Ray State API at {where} answered without a result list",
                              "check that the cluster's Ray version matches")
    return result


def _check_url(url: str, from_where: str) -> None:
    """BadInput (exit 2) unless `url` is http(s)://HOST[:PORT]/...: urllib raises a bare
    ValueError for some (an unclosed IPv6 bracket) and other errors for the rest."""
    try:
        parts = urllib.parse.urlsplit(url)
        problem = "" if parts.port is not None or parts.hostname else "no host"  # .port raises for a bad one
        (parts.hostname or "").encode("idna")  # what the request does with it: a label over 63 characters fails
        if parts.scheme not in ("http", "https"):
            problem = f"the scheme must be http or https, not {quoted(parts.scheme, 20)}"
    except ValueError as err:
        problem = str(err)
    if problem:
        raise BadInput(f"dashboard URL {quoted(url)}{from_where} is not a usable http URL ({fold(problem, 80)})",
                       f"set {API_SERVER_ENV} to http://HOST:PORT")


def fetch_actors(url: str, filters: Sequence[tuple[str, str, str]], *, limit: int, detail: bool,
                 timeout: float = DEFAULT_TIMEOUT_S, source: str = "the cluster",
                 environ: Mapping[str, str] | None = None, http_timeout: float | None = None) -> dict[str, Any]:
    """One `GET /api/v0/actors` as StateApiClient.list() builds it; returns `data.result`.

    What `actors list`, the organism's status and teardown, diagnose and connections read.
    http_timeout bounds the HTTP round trip (default: the server's timeout plus 5 s).
    """
    return fetch_list(url, ACTORS_ENDPOINT, filters, limit=limit, detail=detail, timeout=timeout, source=source,
                      environ=environ, http_timeout=http_timeout)


def fetch_list(url: str, endpoint: str, filters: Sequence[tuple[str, str, str]], *, limit: int, detail: bool,
               timeout: float = DEFAULT_TIMEOUT_S, source: str = "the cluster",
               environ: Mapping[str, str] | None = None, http_timeout: float | None = None) -> dict[str, Any]:
    """One State API list query (`/api/v0/actors`, `/api/v0/jobs`, ...); returns `data.result`."""
    params: list[tuple[str, Any]] = [
        ("limit", limit),
        ("timeout", max(1, int(timeout))),
        ("detail", "true" if detail else "false"),
    ]
    for key, predicate, value in filters:
        params += [("filter_keys", key), ("filter_predicates", predicate), ("filter_values", value)]
    try:
        # The server's own timeout bounds its GCS query; give the HTTP round trip a little more.
        return get_json(url + endpoint, params, timeout=timeout + 5 if http_timeout is None else http_timeout,
                        source=source, environ=environ)
    except OperationFailed as err:
        # A head started with a lower RAY_MAX_LIMIT_FROM_API_SERVER names its limit: ask again.
        found = _SERVER_LIMIT_RE.search(err.message)
        if not found or not 0 < int(found.group(1)) < limit:
            raise
        return fetch_list(url, endpoint, filters, limit=int(found.group(1)), detail=detail, timeout=timeout,
                          source=source, environ=environ, http_timeout=http_timeout)


def check_dashboard(url: str, timeout: float = 2.0, environ: Mapping[str, str] | None = None) -> DashboardCheck:
    """Ask the State API for one actor at `url`; never raises (for `diagnose`)."""
    started = time.monotonic()
    if not url:
        err = no_dashboard()
        return DashboardCheck(url="", ok=False, detail=err.message, seconds=0.0, hint=err.hint)
    url = url if "://" in url else f"http://{url}"
    try:
        # timeout here bounds the whole HTTP round trip
        params = [("limit", 1), ("timeout", max(1, int(timeout))), ("detail", "false")]
        result = get_json(url.rstrip("/") + ACTORS_ENDPOINT, params, timeout=timeout, source="the cluster", environ=environ)
    except (CannotConnect, OperationFailed) as err:
        return DashboardCheck(url=url, ok=False, detail=err.message,
                              seconds=round(time.monotonic() - started, 3), hint=err.hint)
    return DashboardCheck(url=url, ok=True,
                          detail=f"State API answers ({as_int(result.get('total'))} actors in the cluster)",
                          seconds=round(time.monotonic() - started, 3))


def authentication_mode(url: str, timeout: float) -> str:
    """'token', 'disabled', ... from the dashboard's /api/authentication_mode (which needs no
    token), or '' when it does not say."""
    try:
        body = get_json(url.rstrip("/") + "/api/authentication_mode", [], timeout, "the cluster", envelope=False)
    except (CannotConnect, OperationFailed, BadInput):
        return ""
    return str(body.get("authentication_mode", "")) if isinstance(body, dict) else ""


def as_int(value: Any) -> int:
    """A count or id from a State API row as an int (0 when absent or malformed)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
