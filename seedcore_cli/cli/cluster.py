"""`seedcore cluster start|stop|status`: the embedded loopback Ray head. Never imports ray."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from seedcore_cli.cli.context import application
from seedcore_cli.cli.output import OutputFormat, OutputOption, message, render
from seedcore_cli.errors import EXIT_FAILED
from seedcore_cli.local import cluster as local_cluster


class AuthMode(str, Enum):
    none = "none"
    token = "token"


app = typer.Typer(help="Start, stop and inspect seedcore's local loopback Ray cluster.", no_args_is_help=True)



def _render_status(ctx: typer.Context, status: local_cluster.LocalClusterStatus, output: OutputFormat) -> None:
    data = status.to_dict()
    keys = ["running", "pid", "gcs_address", "client_address", "dashboard_url", "auth", "token_file",
            "other_services", "session_dir", "log_file", "state_file"]
    render(application(ctx).consoles, output, data, ["field", "value"],
           [(key, data.get(key, "")) for key in keys if key in data])


@app.command()
def start(
    ctx: typer.Context,
    num_cpus: Annotated[Optional[int], typer.Option("--num-cpus", min=1, help="CPUs the head offers (default: all).")] = None,
    auth: Annotated[Optional[AuthMode], typer.Option(
        "--auth", show_default=False,
        help="Token authentication: 'token' writes a fresh token (mode 0600) to the state dir; 'none' "
             "turns it off (the default when starting). Given, it must match a cluster that already runs.")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Start the local Ray head on 127.0.0.1 (does nothing if it already runs)."""
    consoles = application(ctx).consoles
    wanted = None if auth is None else (local_cluster.AUTH_TOKEN if auth == AuthMode.token else "")
    if consoles.interactive and output == OutputFormat.table:
        with consoles.err.status("Starting the local Ray cluster..."):
            cluster, started = local_cluster.start(num_cpus=num_cpus, auth=wanted)
    else:
        cluster, started = local_cluster.start(num_cpus=num_cpus, auth=wanted)
    message(consoles, "Started the local cluster." if started else "The local cluster already runs.")
    _render_status(ctx, local_cluster.status(), output)


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the local Ray head this tool started (by its pid; nothing else is touched)."""
    stopped = local_cluster.stop()
    message(application(ctx).consoles, _stop_text(stopped))


def _stop_text(stopped: local_cluster.Stopped) -> str:
    cluster = stopped.cluster
    if cluster is None:
        return "No seedcore local cluster is recorded; nothing to stop."
    if stopped.outcome == local_cluster.OURS:
        return f"Stopped the local cluster (pid {cluster.pid}, {cluster.gcs_address})."
    if stopped.outcome == local_cluster.OTHER:
        return (f"pid {cluster.pid} is no longer the local cluster's head (it is {stopped.detail}): "
                "did not signal it; forgot the stale record.")
    return f"The recorded local cluster (pid {cluster.pid}) was not running; forgot its record."


@app.command()
def status(ctx: typer.Context, output: OutputOption = OutputFormat.table) -> None:
    """Say whether the local Ray head runs and where. Exit 1 when it does not."""
    current = local_cluster.status()
    if current.stale and current.cluster is not None:
        message(application(ctx).consoles, f"The recorded local cluster (pid {current.cluster.pid}) is not running; "
                                           "run `seedcore cluster start`.")
    _render_status(ctx, current, output)
    if not current.running:
        raise typer.Exit(EXIT_FAILED)
