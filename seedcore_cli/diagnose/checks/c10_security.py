"""10. dashboard and security: the State API reachable; token authentication on or off and
whether a token is available; a non-loopback cluster without authentication is a warning
(exposed Ray dashboards are how ShadowRay, CVE-2023-48022, happened)."""

from __future__ import annotations

import urllib.error
from concurrent.futures import ThreadPoolExecutor
import urllib.request
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from seedcore_cli import inventory
from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import FAIL, OK, WARN, CheckResult
from seedcore_cli.diagnose.registry import check
from seedcore_cli.settings import is_loopback_host

ID = "dashboard_security"
ON, OFF, UNKNOWN = "on", "off", "unknown"
SHADOWRAY = ("anyone who reaches it can run code on the cluster (ShadowRay, CVE-2023-48022): enable token "
             "authentication (RAY_AUTH_MODE=token on the head and drivers; `ray get-auth-token --generate`), "
             "or keep Ray on a private network behind a firewall")


def token_source(environ: Mapping[str, str]) -> str:
    """Where the token `actors list` sends comes from, in Ray's order ('' for none); never the token.

    Availability is inventory's own rule (~/.ray/auth_token counts only with RAY_AUTH_MODE=token),
    so diagnose never reports a token that the State API calls would not send.
    """
    if not inventory.auth_token(environ):
        return ""
    if environ.get("RAY_AUTH_TOKEN", "").strip():
        return "RAY_AUTH_TOKEN"
    path = environ.get("RAY_AUTH_TOKEN_PATH", "").strip()
    if path:
        return f"RAY_AUTH_TOKEN_PATH ({Path(path).expanduser()})"
    return str(Path.home() / ".ray" / "auth_token")


def cluster_auth(dashboard_url: str, timeout: float) -> str:
    """Whether the cluster enforces token auth: ask the State API with no credentials at all."""
    if not dashboard_url:
        return UNKNOWN
    request = urllib.request.Request(dashboard_url.rstrip("/") + "/api/v0/actors?limit=1&detail=false",
                                     method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return OFF if 200 <= response.status < 300 else UNKNOWN
    except urllib.error.HTTPError as err:
        return ON if err.code in (401, 403) else UNKNOWN
    except OSError:
        return UNKNOWN


def classify(exposed: bool, auth: str, local_mode: str, token: str) -> tuple[str, str, str]:
    """(status, seen, hint) for the security part. Pure: unit-tested for every combination.

    exposed: the cluster is reached on a non-loopback address; auth: on/off/unknown (the cluster);
    local_mode: RAY_AUTH_MODE here ('' unset); token: where a token is available ('' none).
    """
    where = "a non-loopback address" if exposed else "loopback only"
    have = f"a token is available ({token})" if token else "no token is available"
    mode = f"RAY_AUTH_MODE={local_mode}" if local_mode else "RAY_AUTH_MODE unset"
    seen = f"token auth {auth} on the cluster ({where}); {mode} here, {have}"
    if auth == ON and not token:
        return FAIL, seen, "the cluster requires a token: set RAY_AUTH_TOKEN (run `ray get-auth-token` on the head)"
    if auth == ON and local_mode.lower() != "token":
        return WARN, seen, "set RAY_AUTH_MODE=token here so Ray drivers send the token"
    if auth == OFF and exposed:
        return WARN, seen, f"Ray without authentication on a network address: {SHADOWRAY}"
    if auth == UNKNOWN and exposed:
        return WARN, seen, f"could not tell whether authentication is on; if it is off, {SHADOWRAY}"
    return OK, seen, ""


@check(ID, "Dashboard and security", needs=("configuration", "reachability"))
def dashboard_security(ctx: Context) -> CheckResult:
    env = ctx.inputs.env
    url = ctx.dashboard_url
    if ctx.connection is not None:  # honours RAY_API_SERVER_ADDRESS, as `actors list` does
        url, _ = inventory.dashboard_url_for(ctx.connection, env)
        url = url or ctx.dashboard_url
    with ThreadPoolExecutor(2) as pool:  # both bounded by the timeout; ask at once
        asked = pool.submit(inventory.check_dashboard, url, ctx.timeout, env)
        auth = cluster_auth(url, ctx.timeout)
        state_api = asked.result()
    dash_host = urlsplit(url).hostname or "" if url else ""
    exposed = not is_loopback_host(ctx.host) or bool(dash_host and not is_loopback_host(dash_host))
    status, seen, hint = classify(exposed, auth, env.get("RAY_AUTH_MODE", ""), token_source(env))
    details = (("dashboard", url or "none"), ("state api", state_api.detail), ("cluster token auth", auth))
    if state_api.ok:
        seen = f"State API at {url} answers; {seen}"
    else:
        seen = f"State API at {url or '(none)'}: {state_api.detail}; {seen}"
        if status == OK:
            status = WARN
            hint = state_api.hint or "start the head with the dashboard (ray[default])"
        else:
            hint = f"{hint}; {state_api.hint}" if state_api.hint else hint
    return CheckResult(ID, status, seen, hint, details=details)
