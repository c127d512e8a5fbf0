"""The one client of Ray's State API (the dashboard's REST API): where it is, and one HTTP
helper that turns every failure into seedcore's errors.

Why REST and not `ray.util.state`: in a process connected through Ray Client, Ray's State API
helpers read RAY_ADDRESS and call `ray.init` again, which raises "Ray Client is already
connected". This module asks the dashboard directly with the standard library: no second
connection, no `import ray`.

Invariants: every failure is a SeedcoreError with its exit code (the dashboard not there or not
answering: DashboardUnavailable or CannotConnect, 3; an error answer: OperationFailed, 1; a
malformed URL: BadInput, 2), except check_dashboard and authentication_mode, which report and
never raise (for diagnose). Where the dashboard is and which token to send are what connect()
settled, carried by the Connection; nothing here reads the environment. The token is sent as
`Authorization: Bearer` and never appears in a message.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from seedcore_cli.errors import BadInput, CannotConnect, DashboardUnavailable, OperationFailed, bare, fold, quoted
from seedcore_cli.ray_boundary import auth
from seedcore_cli.settings import http_url

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


class DashboardAddress(Protocol):
    """What this module reads from a Connection: where its dashboard is (settled by connect())."""

    @property
    def dashboard_url(self) -> str: ...

    @property
    def api_server_address(self) -> str: ...


def dashboard_url_for(connection: DashboardAddress) -> tuple[str, str]:
    """(State API base URL, where it came from); url '' when the cluster reported no dashboard.
    RAY_API_SERVER_ADDRESS as the user set it (Ray's tooling honours it) wins over the cluster's."""
    if connection.api_server_address.strip():
        return http_url(connection.api_server_address), API_SERVER_ENV
    return http_url(connection.dashboard_url or ""), "the cluster"


class DashboardWithToken(DashboardAddress, Protocol):
    """A DashboardAddress plus the token to send it (a Connection, or diagnose's view of one)."""

    @property
    def token(self) -> auth.Token | None: ...


def headers(token: auth.Token | None) -> dict[str, str]:
    found = {"Accept": "application/json"}
    if token is not None:
        found["Authorization"] = token.header
    return found


def no_dashboard() -> DashboardUnavailable:
    return DashboardUnavailable(
        "the cluster reports no dashboard, and listing actors needs its State API",
        "start the head with the dashboard (`ray start --head --include-dashboard=true`, "
        f"needs ray[default]), or set {API_SERVER_ENV}=http://HOST:8265",
    )


def get_json(url: str, params: list[tuple[str, Any]], timeout: float, source: str,
             token: auth.Token | None = None, envelope: bool = True) -> Any:
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
    request = urllib.request.Request(full, headers=headers(token), method="GET")
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
                 token: auth.Token | None = None, http_timeout: float | None = None) -> dict[str, Any]:
    """One `GET /api/v0/actors` as StateApiClient.list() builds it; returns `data.result`.

    What `actors list`, the organism's status and teardown, diagnose and connections read.
    http_timeout bounds the HTTP round trip (default: the server's timeout plus 5 s).
    """
    return fetch_list(url, ACTORS_ENDPOINT, filters, limit=limit, detail=detail, timeout=timeout, source=source,
                      token=token, http_timeout=http_timeout)


def fetch_list(url: str, endpoint: str, filters: Sequence[tuple[str, str, str]], *, limit: int, detail: bool,
               timeout: float = DEFAULT_TIMEOUT_S, source: str = "the cluster",
               token: auth.Token | None = None, http_timeout: float | None = None) -> dict[str, Any]:
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
                        source=source, token=token)
    except OperationFailed as err:
        # A head started with a lower RAY_MAX_LIMIT_FROM_API_SERVER names its limit: ask again.
        found = _SERVER_LIMIT_RE.search(err.message)
        if not found or not 0 < int(found.group(1)) < limit:
            raise
        return fetch_list(url, endpoint, filters, limit=int(found.group(1)), detail=detail, timeout=timeout,
                          source=source, token=token, http_timeout=http_timeout)


def check_dashboard(url: str, timeout: float = 2.0, token: auth.Token | None = None) -> DashboardCheck:
    """Ask the State API for one actor at `url`; never raises (for `diagnose`)."""
    started = time.monotonic()
    if not url:
        err = no_dashboard()
        return DashboardCheck(url="", ok=False, detail=err.message, seconds=0.0, hint=err.hint)
    url = http_url(url)
    try:
        # timeout here bounds the whole HTTP round trip
        params = [("limit", 1), ("timeout", max(1, int(timeout))), ("detail", "false")]
        result = get_json(url + ACTORS_ENDPOINT, params, timeout=timeout, source="the cluster", token=token)
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
