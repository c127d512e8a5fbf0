"""The root of the `seedcore` command: global options, the one connect(), error mapping.

Startup order: the root callback resolves settings, then (for commands that need the cluster)
calls connect() exactly once, and hands the Connection to the subcommand on ctx.obj. Before it
connects, it parses the chosen subcommand's arguments, so `--help` and usage errors never touch
Ray (and `bootstrap --bogus` never starts a cluster).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from seedcore_cli import __version__
from seedcore_cli.cli import actors as actors_commands
from seedcore_cli.cli import bootstrap as bootstrap_commands
from seedcore_cli.cli import cluster as cluster_commands
from seedcore_cli.cli import diagnose as diagnose_commands
from seedcore_cli.cli import organism as organism_commands
from seedcore_cli.cli.context import AppState, state
from seedcore_cli.cli.output import OutputFormat, OutputOption, make_consoles, message, render
from seedcore_cli.errors import EXIT_FAILED, BadInput, SeedcoreError

# How each command uses the cluster, by the first word(s) of its path. Default: connect.
NO_CONNECTION = {("cluster",)}
STARTS_LOCAL_CLUSTER = {("bootstrap",)}
REPORTS_CONNECT_FAILURE = {("diagnose",)}


_PENDING_ARGS = "seedcore.pending_args"


def _matches(path: tuple[str, ...], table: set[tuple[str, ...]]) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in table)


def _debug(ctx: typer.Context | None) -> bool:
    verbose = bool(ctx and ctx.find_root().params.get("verbose"))
    return verbose or os.environ.get("SEEDCORE_DEBUG", "") not in ("", "0")


class SeedcoreGroup(TyperGroup):
    """The root group: maps SeedcoreError to one stderr line and its exit code."""

    def invoke(self, ctx: typer.Context):
        # TyperGroup.invoke empties the pending arguments before it runs the root callback;
        # keep a copy so the callback can parse the chosen subcommand first (_parse_subcommand).
        ctx.meta[_PENDING_ARGS] = [*getattr(ctx, "_protected_args", []), *ctx.args]
        try:
            return super().invoke(ctx)
        except SeedcoreError as err:
            if _debug(ctx):
                traceback.print_exc()  # plain traceback: never shows local variables
            typer.echo(f"Error: {err.one_line()}", err=True)
            raise typer.Exit(err.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt, BrokenPipeError):
            raise
        except Exception as err:  # a bug, not something the user caused
            if _debug(ctx):
                traceback.print_exc()
            typer.echo(f"Error: internal error: {type(err).__name__}: {err} "
                       "(rerun with -v for the traceback)", err=True)
            raise typer.Exit(EXIT_FAILED) from None


app = typer.Typer(
    cls=SeedcoreGroup,
    name="seedcore",
    help="Administer a SeedCore organism on Ray: bootstrap it, check its health, diagnose the connection.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(cluster_commands.app, name="cluster")
app.command("bootstrap")(bootstrap_commands.bootstrap)
app.add_typer(organism_commands.app, name="organism")
app.command("diagnose")(diagnose_commands.diagnose)
app.add_typer(actors_commands.app, name="actors")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seedcore {__version__} (Python {sys.version.split()[0]})")
        raise typer.Exit()


def _parse_subcommand(ctx: typer.Context) -> tuple[tuple[str, ...], dict]:
    """Parse the chosen subcommand chain's arguments now; return its names and the leaf's params.

    Runs each sub-context's parser (eager --help prints and exits here; usage errors and bad
    --config files exit 2 here), then discards it: Typer parses again when it invokes the command.
    """
    path: list[str] = []
    command, parent = ctx.command, ctx
    args = ctx.meta.get(_PENDING_ARGS, [])
    while args and isinstance(command, TyperGroup):
        name, sub_command, rest = command.resolve_command(parent, list(args))
        if sub_command is None:
            break
        path.append(name)
        sub_ctx = sub_command.make_context(name, list(rest), parent=parent)
        command, parent = sub_command, sub_ctx
        args = [*getattr(sub_ctx, "_protected_args", []), *sub_ctx.args]
    return tuple(path), (parent.params if parent is not ctx else {})


def _one_namespace(before: str | None, after: str | None) -> str | None:
    """`seedcore --namespace NS cmd` and `seedcore cmd --namespace NS` both work; two differing clash."""
    if before is not None and after is not None and before != after:
        raise BadInput(f"two namespaces given: --namespace {before} before the command and "
                       f"--namespace {after} after it", "give --namespace once")
    return after if after is not None else before


@app.callback()
def root(
    ctx: typer.Context,
    address: Annotated[Optional[str], typer.Option(
        "--address", help="Ray address: auto, local, HOST:PORT (GCS) or ray://HOST:PORT (Ray Client). [env: RAY_ADDRESS]",
        show_default=False)] = None,
    namespace: Annotated[Optional[str], typer.Option(
        "--namespace", help="Ray namespace. [env: SEEDCORE_NS, RAY_NAMESPACE; default: seedcore-dev]",
        show_default=False)] = None,
    env_file: Annotated[Optional[Path], typer.Option(
        "--env-file", help="Read settings from this .env file instead of ./.env.", show_default=False)] = None,
    connect_timeout: Annotated[Optional[float], typer.Option(
        "--connect-timeout", min=0, max=3600, show_default=False,
        help="Seconds to keep retrying Ray Client's transient 'could not start a server' failures. "
             "[env: SEEDCORE_CONNECT_TIMEOUT; default: 60]")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Show where settings came from, and tracebacks.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours (NO_COLOR is honoured too).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Administer a SeedCore organism on Ray."""
    consoles = make_consoles(no_color=no_color)
    ctx.obj = AppState(consoles=consoles, verbose=verbose)
    if ctx.resilient_parsing or ctx.invoked_subcommand is None:
        return
    path, leaf_params = _parse_subcommand(ctx)
    if _matches(path, NO_CONNECTION):
        return
    namespace = _one_namespace(namespace, leaf_params.get("namespace"))
    _connect_once(ctx.obj, address, namespace, env_file, connect_timeout,
                  # a dry run reports what would be created: it starts no cluster either
                  start_local=_matches(path, STARTS_LOCAL_CLUSTER) and not leaf_params.get("dry_run"),
                  tolerate_failure=_matches(path, REPORTS_CONNECT_FAILURE))


def _connect_once(app_state: AppState, address, namespace, env_file, connect_timeout, start_local: bool,
                  tolerate_failure: bool) -> None:
    from seedcore_cli import connection, settings  # imports ray only when connecting

    try:
        app_state.settings = settings.resolve(address=address, namespace=namespace, env_file=env_file)
        for warning in app_state.settings.warnings:
            message(app_state.consoles, f"Warning: {warning}", "yellow")
        if app_state.verbose:
            s = app_state.settings
            where = f"{s.address.value} (from {s.address.source})" if s.address else "default (local cluster, else auto)"
            message(app_state.consoles, f"address: {where}; namespace: {s.namespace.value} (from {s.namespace.source})")
        try:
            consoles = app_state.consoles
            note = (lambda text: message(consoles, text)) if consoles.interactive or app_state.verbose else None
            app_state.connection = connection.connect(app_state.settings, start_local=start_local,
                                                      connect_timeout=connect_timeout, progress=note)
        finally:
            if app_state.verbose and connection.ray_output().strip():
                message(app_state.consoles, "Ray said while connecting:\n" + connection.ray_output().rstrip())
    except SeedcoreError as err:
        if not tolerate_failure:
            raise
        app_state.failure = err
        return
    conn = app_state.connection
    if conn.started_local_cluster:
        message(app_state.consoles, f"Started the seedcore local cluster at {conn.resolved_address} "
                                    "(stop it with `seedcore cluster stop`)")
    if app_state.verbose:
        security = (f"; token from {conn.token_source}" if conn.token_source else "; no token needed") + (
            "; TLS" if conn.tls else "")
        message(app_state.consoles, f"connected ({conn.mode}) to {conn.resolved_address} in "
                                    f"namespace {conn.namespace} in {conn.connect_seconds:.2f} s{security}")


@app.command()
def info(
    ctx: typer.Context,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show the Ray connection: where, how, which namespace, versions, dashboard."""
    conn = state(ctx).require_connection()
    data = conn.to_dict()
    render(state(ctx).consoles, output, data, ["setting", "value"], sorted(data.items()))


def main() -> None:
    try:
        app(prog_name="seedcore")
    except BrokenPipeError:
        # The reader went away (`seedcore actors list | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    finally:
        _disconnect()


def _disconnect() -> None:
    """Leave Ray explicitly: its atexit handler would first sleep 0.5 s to let logs drain."""
    connection = sys.modules.get("seedcore_cli.connection")  # imported only if we connected
    if connection is not None:
        connection.disconnect()
