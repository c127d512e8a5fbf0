"""The application object on ctx.obj: what every command asks for, explicitly.

Startup order, kept here: the root callback only records the global options (Application);
Typer then parses the chosen command's own options (usage errors, --help and bad values exit
before any Ray work); the command asks `app.connect(namespace=..., start_local=...)` for the
connection first, then does its work inside `with app.work(seconds):`, the deadline whose
watchdog names a silent cluster component. connect() runs at most once per process: a second
ask returns the same connection (or raises the same failure). Commands that need no cluster
(`cluster ...`, `lint`) never ask, and never import ray. Nothing here imports ray at module level.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from seedcore_cli.cli.output import Consoles, error_line, message
from seedcore_cli.errors import BadInput, CannotConnect, SeedcoreError

if TYPE_CHECKING:  # no ray-bound import at module level
    from seedcore_cli.organism.config import OrganismConfig
    from seedcore_cli.organism.manager import OrganismManager
    from seedcore_cli.ray_boundary.connection import ConnectAttempt, Connection
    from seedcore_cli.ray_boundary.deadline import Watchdog
    from seedcore_cli.settings import Settings


# How messages name a value given on the command line.
FLAG_LABELS = {"address": "--address", "namespace": "--namespace", "env_file": "--env-file"}
# The work of a command without --timeout may take this long before the watchdog gives its verdict.
DEFAULT_WORK_S = 30.0


@dataclass
class Application:
    """The root options as given, and the one connection made from them."""

    consoles: Consoles
    verbose: bool = False
    address: str | None = None
    namespace: str | None = None
    env_file: Path | None = None
    connect_timeout: float | None = None
    attempt: ConnectAttempt | None = None
    # ends the process with a verdict if the command's Ray work outlives its deadline
    watchdog: Watchdog | None = field(default=None, repr=False)
    # what connect() is (replaced by a fake in the unit tests of the startup order)
    connector: Callable[..., Connection] | None = field(default=None, repr=False)

    def connect(self, *, namespace: str | None = None, start_local: bool = False) -> Connection:
        """The connection for this command: connect() once, in the namespace given before or after
        the command; start_local: start seedcore's local cluster when nothing is configured and
        none runs (bootstrap). Exit 3 (or 2) with one line when it cannot connect."""
        attempt = self.try_connect(namespace=namespace, start_local=start_local)
        if attempt.connection is None:
            raise attempt.failure or CannotConnect("not connected to Ray", "run `seedcore diagnose`")
        return attempt.connection

    def try_connect(self, *, namespace: str | None = None, start_local: bool = False,
                    wait_at_most: float | None = None) -> ConnectAttempt:
        """connect(), once, recording a failure instead of raising it (diagnose reports it).
        wait_at_most: wait no longer for a slow connection, whatever the connect timeout says."""
        if self.attempt is None:
            self.attempt = self._attempt(one_namespace(self.namespace, namespace), start_local, wait_at_most)
            if self.attempt.connection is not None:
                self._announce(self.attempt.connection)
        return self.attempt

    @contextlib.contextmanager
    def work(self, seconds: float | None = None) -> Iterator[None]:
        """The command's Ray work: if it outlives `seconds` (default DEFAULT_WORK_S) plus a grace,
        the watchdog names the silent component and ends the process with exit 3."""
        connection = self.attempt.connection if self.attempt else None
        if connection is None:  # diagnose without a connection: its checks are bounded
            yield
            return
        from seedcore_cli.ray_boundary.deadline import Watchdog

        with Watchdog(seconds or DEFAULT_WORK_S, connection.liveness_target(), _report_and_exit) as self.watchdog:
            yield

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the work's clock while waiting for a person; a fresh deadline afterwards."""
        if self.watchdog is not None:
            self.watchdog.pause()
        try:
            yield
        finally:
            if self.watchdog is not None:
                self.watchdog.rearm()

    def rearm(self) -> None:
        """A fresh deadline for the next round of the work (a second query, a --watch round)."""
        if self.watchdog is not None:
            self.watchdog.rearm()

    def organism_manager(self, config: OrganismConfig | None = None) -> OrganismManager:
        """The OrganismManager for this command, built from the live connection."""
        from seedcore_cli.organism.manager import OrganismManager

        return OrganismManager(self.connect(), config)

    def _attempt(self, namespace: str | None, start_local: bool, wait_at_most: float | None) -> ConnectAttempt:
        from seedcore_cli import settings as settings_module
        from seedcore_cli.ray_boundary import environment  # no ray: the environment as the user set it
        from seedcore_cli.ray_boundary.connection import ConnectAttempt

        resolved: Settings | None = None
        try:
            resolved = settings_module.resolve(address=self.address, namespace=namespace, env_file=self.env_file,
                                               labels=FLAG_LABELS)
            self._describe(resolved)
            connection = self._connect(resolved, start_local, wait_at_most)
        except SeedcoreError as err:
            return ConnectAttempt(resolved, None, err, environment.user_environment(), self.address, namespace,
                                  self.env_file)
        return ConnectAttempt(resolved, connection, None, dict(connection.user_environ), self.address, namespace,
                              self.env_file)

    def _describe(self, resolved: Settings) -> None:
        for warning in resolved.warnings:
            message(self.consoles, f"Warning: {warning}", "yellow")
        if self.verbose:
            where = (f"{resolved.address.value} (from {resolved.address.source})" if resolved.address
                     else "default (local cluster, else auto)")
            message(self.consoles, f"address: {where}; namespace: {resolved.namespace.value} "
                                   f"(from {resolved.namespace.source})")

    def _connect(self, resolved: Settings, start_local: bool, wait_at_most: float | None) -> Connection:
        from seedcore_cli.ray_boundary import captured_output, connection, deadline  # imports ray only when connecting

        consoles = self.consoles
        note = ((lambda text: captured_output.to_user(lambda: message(consoles, text)))
                if consoles.interactive or self.verbose else None)
        budget = (self.connect_timeout if self.connect_timeout is not None
                  else connection.connect_timeout_from_env(os.environ))
        connect = self.connector or connection.connect
        try:
            return deadline.connect_within(
                lambda on_target: connect(resolved, start_local=start_local, connect_timeout=budget,
                                          progress=note, on_target=on_target),
                min(budget, wait_at_most or budget), progress=note, on_abandon=captured_output.release_stderr)
        finally:
            if self.verbose and captured_output.text().strip():
                message(self.consoles, "Ray said while connecting:\n" + captured_output.text().rstrip())

    def _announce(self, conn: Connection) -> None:
        if conn.started_local_cluster:
            message(self.consoles, f"Started the seedcore local cluster at {conn.resolved_address} "
                                   "(stop it with `seedcore cluster stop`)")
        if self.verbose:
            security = (f"; token from {conn.token_source}" if conn.token_source else "; no token needed") + (
                "; TLS" if conn.tls else "")
            message(self.consoles, f"connected ({conn.mode}) to {conn.resolved_address} in "
                                   f"namespace {conn.namespace} in {conn.connect_seconds:.2f} s{security}")


def application(ctx: typer.Context) -> Application:
    """The Application the root callback put on ctx.obj."""
    return ctx.find_root().obj


def one_namespace(before: str | None, after: str | None) -> str | None:
    """`seedcore --namespace NS cmd` and `seedcore cmd --namespace NS` both work; two differing clash."""
    if before is not None and after is not None and before != after:
        raise BadInput(f"two namespaces given: --namespace {before} before the command and "
                       f"--namespace {after} after it", "give --namespace once")
    return after if after is not None else before


def _report_and_exit(err: SeedcoreError) -> None:
    """The watchdog's verdict: the usual one line on stderr, then leave at once (the main thread
    is blocked in Ray; no exit handler may run)."""
    if sys.stdout.isatty():
        sys.stdout.write("\x1b[?25h")  # a live view (--watch) hid the cursor
    sys.stdout.flush()
    typer.echo(error_line(err), err=True)
    sys.stderr.flush()
    os._exit(err.exit_code)
