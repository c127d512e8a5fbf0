"""The root of the `seedcore` command: global options, the command tree, error mapping.

Startup order: the root callback records the global options on ctx.obj (the Application, in
cli/context.py); Typer parses the chosen command's own options (usage errors and --help exit
here, before Ray); a command that works on the cluster first asks the Application for the
connection (`app.connect(...)`: connect() exactly once), then does its work.
"""

from __future__ import annotations

import contextlib
import os
import re
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
from seedcore_cli.cli import connections as connections_commands
from seedcore_cli.cli import diagnose as diagnose_commands
from seedcore_cli.cli import lint as lint_commands
from seedcore_cli.cli import organism as organism_commands
from seedcore_cli.cli.context import Application, application
from seedcore_cli.cli.options import NamespaceOption, OutputFormat, OutputOption
from seedcore_cli.cli.output import error_line, make_consoles, render
from seedcore_cli.errors import EXIT_FAILED, QUOTE_LIMIT, SeedcoreError, fold, quoted


def _debug(ctx: typer.Context | None) -> bool:
    verbose = bool(ctx and ctx.find_root().params.get("verbose"))
    return verbose or os.environ.get("SEEDCORE_DEBUG", "") not in ("", "0")


class SeedcoreGroup(TyperGroup):
    """The root group: maps SeedcoreError to one stderr line and its exit code, whether it comes
    from parsing the root options (their callbacks) or from running a command."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # ctx: Typer's bundled click Context
        with _one_line_errors(ctx):
            return super().parse_args(ctx, args)

    def invoke(self, ctx):
        with _one_line_errors(ctx):
            return super().invoke(ctx)


@contextlib.contextmanager
def _one_line_errors(ctx: typer.Context):
    try:
        yield
    except SeedcoreError as err:
        if _debug(ctx):
            traceback.print_exc()  # plain traceback: never shows local variables
        typer.echo(error_line(err), err=True)
        raise typer.Exit(err.exit_code) from None
    except typer.TyperException as err:  # a usage error: Typer quotes the value as given, however long
        if isinstance(getattr(err, "message", None), str):
            err.message = _cut_long_values(err.message)
        raise
    except (typer.Exit, typer.Abort, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as err:  # a bug, not something the user caused
        if _debug(ctx):
            traceback.print_exc()
        typer.echo(f"Error: internal error: {type(err).__name__}: {fold(str(err), 200)} "
                   "(rerun with -v for the traceback)", err=True)
        raise typer.Exit(EXIT_FAILED) from None


_LONG_QUOTED = re.compile(r"'([^'\n]{" + str(QUOTE_LIMIT + 1) + r",})'")
_LONG_WORD = re.compile(r"\S{" + str(QUOTE_LIMIT + 21) + r",}")


def _cut_long_values(text: str) -> str:
    """Typer's message with every long value (quoted, or a bare word: an unknown option) cut."""
    text = _LONG_QUOTED.sub(lambda found: quoted(found.group(1)), text)
    return _LONG_WORD.sub(lambda found: f"{found.group(0)[:QUOTE_LIMIT]}... ({len(found.group(0))} characters)", text)


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
app.command("lint")(lint_commands.lint)
app.command("connections")(connections_commands.connections)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seedcore {__version__} (Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    address: Annotated[Optional[str], typer.Option(
        "--address", help="Ray address: auto, local, HOST:PORT (GCS) or ray://HOST:PORT (Ray Client). [env: RAY_ADDRESS]",
        show_default=False)] = None,
    namespace: NamespaceOption = None,
    env_file: Annotated[Optional[Path], typer.Option(
        "--env-file", help="Read settings from this .env file instead of ./.env.", show_default=False)] = None,
    connect_timeout: Annotated[Optional[float], typer.Option(
        "--connect-timeout", min=0, max=3600, show_default=False,
        help="Seconds to wait for a connection that is slow but alive (every part of the cluster answers), "
             "retrying Ray Client's transient 'could not start a server' failures meanwhile; a silent "
             "GCS or raylet is named within 5 s regardless. [env: SEEDCORE_CONNECT_TIMEOUT; default: 60]")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Show where settings came from, and tracebacks.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours (NO_COLOR is honoured too).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Administer a SeedCore organism on Ray."""
    ctx.obj = Application(consoles=make_consoles(no_color=no_color), verbose=verbose, address=address,
                       namespace=namespace, env_file=env_file, connect_timeout=connect_timeout)


@app.command()
def info(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show the Ray connection: where, how, which namespace, versions, dashboard."""
    seedcore = application(ctx)
    data = seedcore.connect(namespace=namespace).to_dict()
    render(seedcore.consoles, output, data, ["setting", "value"], sorted(data.items()))


def main() -> None:
    try:
        app(prog_name="seedcore")
    except BrokenPipeError:
        # The reader went away (`seedcore actors list | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    except SystemExit as exit_:
        _leave_if_abandoned(exit_.code)
        raise
    finally:
        _disconnect()


def _leave_if_abandoned(code) -> None:
    """A connect() given up on its deadline is still blocked inside ray.init on a thread; Ray's
    exit handlers would block on the same silent component: leave at once."""
    deadline = sys.modules.get("seedcore_cli.ray_boundary.deadline")
    if deadline is not None and deadline.abandoned():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


def _disconnect() -> None:
    """Leave Ray explicitly: its atexit handler would first sleep 0.5 s to let logs drain."""
    connection = sys.modules.get("seedcore_cli.ray_boundary.connection")  # imported only if we connected
    if connection is not None:
        connection.disconnect()
