"""What every command shares on ctx.obj (AppState), and how a command declares its connection.

One connection, made once, after parsing and before any work: a command that needs the cluster
is decorated with `@connects(...)`, which declares its policy (may it start the local cluster?
does it report a failed connect instead of exiting?). Typer has parsed the whole command line by
then (usage errors, --help and bad option values never reach Ray), and the decorator calls
connect() once, in the namespace given before or after the command, before the command's body
runs. Commands without it (`cluster ...`) never import ray.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from seedcore_cli.cli.output import Consoles, error_line, message
from seedcore_cli.errors import BadInput, CannotConnect, SeedcoreError

if TYPE_CHECKING:  # no ray-bound import at module level
    from seedcore_cli.ray_boundary.connection import Connection
    from seedcore_cli.ray_boundary.deadline import Watchdog
    from seedcore_cli.settings import Settings


# How messages name a value given on the command line.
FLAG_LABELS = {"address": "--address", "namespace": "--namespace", "env_file": "--env-file"}


@dataclass
class AppState:
    """The root options as given, and what connecting made of them."""

    consoles: Consoles
    verbose: bool = False
    address: str | None = None
    namespace: str | None = None
    env_file: Path | None = None
    connect_timeout: float | None = None
    settings: Settings | None = None
    connection: Connection | None = None
    # only for commands that tolerate it (diagnose): why settings or connect() failed
    failure: SeedcoreError | None = field(default=None)
    # ends the process with a verdict if the command's Ray work outlives its deadline
    watchdog: Watchdog | None = None

    def require_connection(self) -> Connection:
        if self.connection is None:  # @connects guarantees one; this guards misuse
            raise self.failure or CannotConnect("not connected to Ray", "run `seedcore diagnose`")
        return self.connection


def state(ctx: typer.Context) -> AppState:
    return ctx.find_root().obj


# The work of a command without --timeout may take this long before the watchdog gives its verdict.
DEFAULT_WORK_S = 30.0


def connects(*, start_local: bool = False, tolerate_failure: bool = False,
             work_seconds: float | Callable[[dict], float] | None = None,
             connect_seconds: float | None = None) -> Callable:
    """Declare that a command works on the cluster; connect once before its body runs.

    start_local: with nothing configured and no cluster running, start seedcore's local cluster
    (not for a `--dry-run`); tolerate_failure: record a failed connect on AppState.failure and run
    the command anyway (diagnose reports it) instead of exiting 3. The body runs under a
    watchdog (deadline.Watchdog): it may take `work_seconds` (a number, or one computed from the
    command's parameters), else its `--timeout`, else DEFAULT_WORK_S, plus a grace before the
    process ends with exit 3 and the silent component named.
    connect_seconds: wait at most this long for a slow connection (diagnose: its own budget),
    whatever the connect timeout says.
    """
    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)  # Typer reads the wrapped signature: the options stay the command's
        def run(**params):
            app_state = state(params["ctx"])
            namespace = one_namespace(app_state.namespace, params.get("namespace"))
            connect_once(app_state, namespace, start_local=start_local and not params.get("dry_run"),
                         tolerate_failure=tolerate_failure, wait_at_most=connect_seconds)
            if app_state.connection is None:  # diagnose without a connection: its checks are bounded
                return command(**params)
            from seedcore_cli.ray_boundary.deadline import Watchdog

            seconds = (work_seconds(params) if callable(work_seconds) else work_seconds) or (
                params.get("timeout") or DEFAULT_WORK_S)
            with Watchdog(seconds, app_state.connection.liveness_target(), _report_and_exit) as app_state.watchdog:
                return command(**params)

        run.seedcore_connects = True  # for the test that every cluster command declares it
        return run

    return decorate


def one_namespace(before: str | None, after: str | None) -> str | None:
    """`seedcore --namespace NS cmd` and `seedcore cmd --namespace NS` both work; two differing clash."""
    if before is not None and after is not None and before != after:
        raise BadInput(f"two namespaces given: --namespace {before} before the command and "
                       f"--namespace {after} after it", "give --namespace once")
    return after if after is not None else before


def connect_once(app_state: AppState, namespace: str | None, start_local: bool, tolerate_failure: bool,
                 wait_at_most: float | None = None) -> None:
    from seedcore_cli import settings
    from seedcore_cli.ray_boundary import captured_output, connection, deadline  # imports ray only when connecting

    try:
        app_state.settings = settings.resolve(address=app_state.address, namespace=namespace,
                                              env_file=app_state.env_file, labels=FLAG_LABELS)
        for warning in app_state.settings.warnings:
            message(app_state.consoles, f"Warning: {warning}", "yellow")
        if app_state.verbose:
            s = app_state.settings
            where = f"{s.address.value} (from {s.address.source})" if s.address else "default (local cluster, else auto)"
            message(app_state.consoles, f"address: {where}; namespace: {s.namespace.value} (from {s.namespace.source})")
        consoles = app_state.consoles
        note = ((lambda text: captured_output.to_user(lambda: message(consoles, text)))
                if consoles.interactive or app_state.verbose else None)
        budget = (app_state.connect_timeout if app_state.connect_timeout is not None
                  else connection.connect_timeout_from_env(os.environ))
        try:
            app_state.connection = deadline.connect_within(
                lambda on_target: connection.connect(app_state.settings, start_local=start_local,
                                                     connect_timeout=budget, progress=note, on_target=on_target),
                min(budget, wait_at_most or budget), progress=note, on_abandon=captured_output.release_stderr)
        finally:
            if app_state.verbose and captured_output.text().strip():
                message(app_state.consoles, "Ray said while connecting:\n" + captured_output.text().rstrip())
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


def _report_and_exit(err: SeedcoreError) -> None:
    """The watchdog's verdict: the usual one line on stderr, then leave at once (the main thread
    is blocked in Ray; no exit handler may run)."""
    if sys.stdout.isatty():
        sys.stdout.write("\x1b[?25h")  # a live view (--watch) hid the cursor
    sys.stdout.flush()
    typer.echo(error_line(err), err=True)
    sys.stderr.flush()
    os._exit(err.exit_code)


@contextlib.contextmanager
def paused(watchdog: Watchdog | None):
    """Stop the work's clock while waiting for a person; a fresh deadline afterwards."""
    if watchdog is not None:
        watchdog.pause()
    try:
        yield
    finally:
        if watchdog is not None:
            watchdog.rearm()
