"""4. reachability: short probes of the ports that apply (GCS or Ray Client, and the dashboard);
a port that answers in the wrong protocol for the scheme gets the right port as its hint."""

from __future__ import annotations

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, fail, ok, warn
from seedcore_cli.diagnose.registry import check
from seedcore_cli.errors import SeedcoreError, TlsMismatch, Unreachable
from seedcore_cli.ray_boundary import connection, liveness, probe, state_api
from seedcore_cli.settings import ConnectionMode, http_url, split_address

ID = "reachability"


@check(ID, "Reachability", needs=("configuration", "address"))
def reachability(ctx: Context) -> CheckResult:
    s, host, port, mode = ctx.resolved_settings, ctx.host, ctx.port, ConnectionMode(ctx.mode)
    what = "Ray Client server" if ctx.mode == ConnectionMode.CLIENT else "GCS"
    details: list[tuple[str, str]] = []
    failure = ctx.inputs.failure
    if isinstance(failure, (Unreachable, TlsMismatch)):  # connect() probed this very target moments ago
        return fail(ID, failure.message, failure.hint, details=((what, f"{host}:{port}"),))
    try:
        # The same probe and wording connect() uses: closed port, ray:// at a GCS port, a GCS
        # address at the Ray Client port, TLS mismatches, something else entirely.
        tls_files = ctx.inputs.tls_files()
        spoken = connection.check_reachable(s, mode, host, port, tls_files)
    except SeedcoreError as err:  # unreachable, TLS mismatch, unusable TLS files
        return fail(ID, err.message, err.hint, details=((what, f"{host}:{port}"),))
    ctx.probe = spoken
    if spoken.auth == probe.AUTH_MISSING:  # the facts below need the token, when there is one
        token = ctx.inputs.token()
        if token is not None:
            spoken = probe.protocol_of(host, port, ctx.timeout, token_header=token.header, tls=tls_files)
    # Answering is not enough: a frozen GCS behind a Ray Client server, or a frozen raylet,
    # blocks Ray itself; name the silent process.
    culprit = liveness.find_culprit(liveness.target_for(
        mode, host, port, tls_files, ctx.inputs.token(),
        ctx.connection.dashboard_url if ctx.connection is not None else http_url(spoken.dashboard),
        ctx.inputs.user_env.get(state_api.API_SERVER_ENV, "").strip()), min(1.0, ctx.timeout))
    if culprit is not None:
        return fail(ID, f"{what} {host}:{port} answers, but {culprit.describe()}",
                    "resume or restart that process (or its node); Ray blocks on it",
                    details=((what, f"{host}:{port}"), (culprit.component, culprit.where)))
    speaks = "client" if ctx.mode == ConnectionMode.CLIENT else "gcs"
    details.append((what, f"{host}:{port} answers ({speaks})"))
    parts = [f"{what} {host}:{port} answers"]
    if spoken.ray_version:
        ctx.cluster_metadata = {"ray_version": spoken.ray_version, "python_version": spoken.python_version or "?"}

    # Where the dashboard is: facts only. What the connection reported, else what the target's
    # GCS records; a guessed default port could belong to another cluster, so none is guessed.
    notes = []
    if ctx.connection is not None and ctx.connection.dashboard_url:
        ctx.dashboard_url, ctx.dashboard_source = ctx.connection.dashboard_url, "the connection"
    elif spoken.dashboard:
        ctx.dashboard_url, ctx.dashboard_source = http_url(spoken.dashboard), "the GCS"
    if not ctx.dashboard_url:
        if spoken.auth != probe.AUTH_NONE:
            why = f"the {what} demands a token that {'it refused' if spoken.auth == probe.AUTH_REFUSED else 'is not here'}"
        elif speaks == "client":
            why = ("a Ray Client port does not tell it" + ("" if ctx.connection is not None else
                                                            ", and the connection failed"))
        else:
            why = "the GCS records none (a head without the dashboard)"
        notes.append(f"dashboard address unknown: {why}")
        details.append(("dashboard", f"unknown ({why})"))
    else:
        dash_host, dash_port = split_address(ctx.dashboard_url)
        if probe.tcp_open(dash_host, dash_port, ctx.timeout):
            parts.append(f"dashboard {dash_host}:{dash_port} open")
            details.append(("dashboard", f"{ctx.dashboard_url} open (from {ctx.dashboard_source})"))
        else:
            details.append(("dashboard", f"{ctx.dashboard_url} closed (from {ctx.dashboard_source})"))
            notes.append(f"dashboard {dash_host}:{dash_port} ({ctx.dashboard_source}) does not answer")
    seen = "; ".join(parts + notes)
    if notes:
        return warn(ID, seen, "the dashboard's State API lists actors and finds other namespaces: start the "
                              "head with ray[default] and --dashboard-host, or set RAY_API_SERVER_ADDRESS",
                    details=tuple(details))
    return ok(ID, seen, details=tuple(details))
