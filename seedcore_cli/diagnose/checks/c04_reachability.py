"""4. reachability: short probes of the ports that apply (GCS or Ray Client, and the dashboard);
a port that answers in the wrong protocol for the scheme gets the right port as its hint."""

from __future__ import annotations

import json

from seedcore_cli import connection, probe
from seedcore_cli.diagnose import bounded
from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, fail, ok, warn
from seedcore_cli.diagnose.registry import check
from seedcore_cli.errors import Unreachable
from seedcore_cli.settings import DEFAULT_DASHBOARD_PORT

ID = "reachability"


def gcs_facts(host: str, port: int, timeout: float) -> tuple[dict | None, str]:
    """(cluster metadata {ray_version, python_version}, dashboard 'HOST:PORT') read from the GCS.

    Only call it for a port known to speak GCS: Ray's GcsClient waits ~30 s on a dead one.
    """
    import ray  # noqa: F401  (ray._raylet needs ray's own import first)
    from ray._raylet import GcsClient

    client = GcsClient(address=f"{host}:{port}")
    raw_meta = client.internal_kv_get(b"CLUSTER_METADATA", namespace=b"cluster", timeout=timeout)
    raw_dash = client.internal_kv_get(b"dashboard", namespace=b"dashboard", timeout=timeout)
    meta = json.loads(raw_meta.decode()) if raw_meta else None
    return meta, raw_dash.decode() if raw_dash else ""


@check(ID, "Reachability", needs=("configuration", "address"))
def reachability(ctx: Context) -> CheckResult:
    s, host, port = ctx.settings, ctx.host, ctx.port
    what = "Ray Client server" if ctx.mode == connection.MODE_CLIENT else "GCS"
    details: list[tuple[str, str]] = []
    failure = ctx.inputs.failure
    if isinstance(failure, Unreachable):  # connect() probed this very target moments ago
        return fail(ID, failure.message, failure.hint, details=((what, f"{host}:{port}"),))
    try:
        # The same probe and wording connect() uses: closed port, ray:// at a GCS port,
        # a GCS address at the Ray Client port, something else entirely.
        connection.check_reachable(s, ctx.mode, host, port)
    except Unreachable as err:
        return fail(ID, err.message, err.hint, details=((what, f"{host}:{port}"),))
    speaks = "client" if ctx.mode == connection.MODE_CLIENT else "gcs"
    details.append((what, f"{host}:{port} answers ({speaks})"))
    parts = [f"{what} {host}:{port} answers"]

    # Where the dashboard is: what the connection reported, else what the GCS records.
    notes = []
    if ctx.connection is not None and ctx.connection.dashboard_url:
        ctx.dashboard_url, ctx.dashboard_source = ctx.connection.dashboard_url, "the connection"
    if speaks == "gcs":
        try:
            # bounded: never wait on Ray's own retries; two reads, half the timeout each, so that
            # with the probes this check stays within the runner's bound
            meta, dash = bounded.call(gcs_facts, host, port, ctx.timeout / 2, timeout=ctx.timeout + 1)
            ctx.cluster_metadata = meta
            if dash and not ctx.dashboard_url:
                ctx.dashboard_url, ctx.dashboard_source = f"http://{dash}", "the GCS"
        except Exception as err:  # auth refused, timeout, old cluster: the other checks still run
            notes.append(f"could not read the cluster's metadata from the GCS ({type(err).__name__})")
    if not ctx.dashboard_url:
        ctx.dashboard_url = f"http://{host}:{DEFAULT_DASHBOARD_PORT}"
        ctx.dashboard_source = "the default port"

    dash_host, dash_port = connection.split_address(ctx.dashboard_url)
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
