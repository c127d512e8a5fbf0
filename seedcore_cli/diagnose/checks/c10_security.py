"""10. dashboard and security: the State API reachable; token authentication on or off and
whether a token is available; a non-loopback cluster without authentication is a warning
(exposed Ray dashboards are how ShadowRay, CVE-2023-48022, happened)."""

from __future__ import annotations

from seedcore_cli import settings
from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import FAIL, OK, WARN, CheckResult
from seedcore_cli.diagnose.registry import check
from seedcore_cli.ray_boundary import auth, probe, state_api
from seedcore_cli.settings import is_loopback_host

ID = "dashboard_security"
ON, OFF, UNKNOWN = "on", "off", "unknown"
SHADOWRAY = ("anyone who reaches it can run code on the cluster (ShadowRay, CVE-2023-48022): enable token "
             "authentication (RAY_AUTH_MODE=token on the head and drivers; `ray get-auth-token --generate`), "
             "or keep Ray on a private network behind a firewall")


def token_source(ctx: Context) -> str:
    """Where the token comes from ('' for none): what connect() used, else where Ray would find
    one. Never the token itself."""
    if ctx.connection is not None and ctx.connection.token_source:
        return ctx.connection.token_source
    token = auth.find_token(ctx.inputs.user_env)
    return token.source if token else ""


def cluster_auth(ctx: Context) -> tuple[str, str]:
    """(on/off/unknown, how we know): the target's own gRPC answer to a call without a token
    (reachability's probe), else the dashboard's unauthenticated /api/authentication_mode."""
    spoken = ctx.probe
    if spoken is not None and spoken.name in (probe.GCS, probe.CLIENT):
        server = "GCS" if spoken.name == probe.GCS else "Ray Client server"
        if spoken.auth != probe.AUTH_NONE:
            return ON, f"the {server} demanded a token"
        return OFF, f"the {server} answered without a token"
    mode = state_api.authentication_mode(ctx.dashboard_url, ctx.timeout) if ctx.dashboard_url else ""
    if mode:
        return (ON if mode == "token" else OFF), "the dashboard's /api/authentication_mode"
    return UNKNOWN, "neither the target nor its dashboard answered"


def classify(exposed: bool, auth_state: str, local_mode: str, token: str) -> tuple[str, str, str]:
    """(status, seen, hint) for the security part. Pure: unit-tested for every combination.

    exposed: the cluster is reached on a non-loopback address; auth: on/off/unknown (the cluster);
    local_mode: RAY_AUTH_MODE here ('' unset); token: where a token is available ('' none).
    """
    where = "a non-loopback address" if exposed else "loopback only"
    have = f"a token is available ({token})" if token else "no token is available"
    mode = f"RAY_AUTH_MODE={local_mode}" if local_mode else "RAY_AUTH_MODE unset"
    seen = f"token auth {auth_state} on the cluster ({where}); {mode} here, {have}"
    if auth_state == ON and not token:
        return FAIL, seen, "the cluster requires a token: " + auth.HOW_TO_GET
    if auth_state == ON and local_mode.lower() != "token":
        return WARN, seen, "set RAY_AUTH_MODE=token here so Ray drivers send the token"
    if auth_state == OFF and exposed:
        return WARN, seen, f"Ray without authentication on a network address: {SHADOWRAY}"
    if auth_state == UNKNOWN and exposed:
        return WARN, seen, f"could not tell whether authentication is on; if it is off, {SHADOWRAY}"
    return OK, seen, ""


@check(ID, "Dashboard and security", needs=("configuration", "reachability"))
def dashboard_security(ctx: Context) -> CheckResult:
    user_env = ctx.inputs.user_env
    url = ctx.dashboard_url
    if ctx.connection is not None:  # honours RAY_API_SERVER_ADDRESS, as `actors list` does
        url, _ = state_api.dashboard_url_for(ctx.connection)
        url = url or ctx.dashboard_url
    sent = ctx.connection.token if ctx.connection is not None else auth.token_to_send(user_env)
    answer = state_api.check_dashboard(url, ctx.timeout, sent)
    auth_state, how = cluster_auth(ctx)
    dash_host = settings.split_url(url)[1] if url else ""
    exposed = not is_loopback_host(ctx.host) or bool(dash_host and not is_loopback_host(dash_host))
    local_mode = user_env.get(auth.MODE_ENV, "").strip()
    if ctx.connection is not None and ctx.connection.token_source and local_mode.lower() != "token":
        local_mode = "token"  # seedcore turned it on for itself; other drivers still need it
        note = " (seedcore sets it for itself; export it for other Ray drivers)"
    else:
        note = ""
    status, seen, hint = classify(exposed, auth_state, local_mode, token_source(ctx))
    seen = seen.replace(f"token auth {auth_state} on the cluster (", f"cluster token auth: {auth_state} ({how}; ", 1) + note
    details = (("dashboard", url or "unknown"), ("state api", answer.detail),
               ("cluster token auth", f"{auth_state} ({how})"))
    if answer.ok:
        seen = f"State API at {url} answers; {seen}"
    else:
        seen = f"State API at {url or '(unknown)'}: {answer.detail}; {seen}"
        if status == OK:
            status = WARN
            hint = answer.hint or "start the head with the dashboard (ray[default])"
        else:
            hint = f"{hint}; {answer.hint}" if answer.hint else hint
    return CheckResult(ID, status, seen, hint, details=details)
