"""`seedcore bootstrap`: bring the organism up (singletons, organs, agents). Never imports ray.

@connects has connected (and started the embedded local cluster when nothing runs, no address is
configured and this is not a dry run) before the body runs; `--config` was read and validated
while the flags were parsed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from seedcore_cli.cli.context import connects, state
from seedcore_cli.cli.options import ConfigOption, NamespaceOption, OutputFormat, OutputOption, loaded_config
from seedcore_cli.cli.organism import SINGLETON_NAMES, manager, progress
from seedcore_cli.cli.output import message, render
from seedcore_cli.errors import EXIT_FAILED

COLUMNS = ["name", "kind", "class", "action", "state", "node"]


@connects(start_local=True)
def bootstrap(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    config: ConfigOption = None,
    singletons_only: Annotated[bool, typer.Option(
        "--singletons-only", help=f"Only {SINGLETON_NAMES}.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Connect and report what would be created; create nothing.")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1.0, help="Seconds to wait for the actors to come up.")] = 120.0,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Bring the SeedCore organism up: singletons, organs and agents (idempotent)."""
    consoles = state(ctx).consoles
    organism = manager(ctx, loaded_config(ctx))
    with progress(consoles, "Starting actors") as on_progress:
        result = organism.initialize(singletons_only=singletons_only, dry_run=dry_run, timeout=timeout,
                                     progress=on_progress)
    rows = [(r.name, r.kind, r.class_name, r.action, r.state, r.node) for r in result.actors]
    render(consoles, output, result.to_dict(), COLUMNS, rows)
    if dry_run:
        summary = f"Dry run: {result.count('would create')} actor(s) would be created"
    else:
        summary = f"{result.count('created')} actor(s) created"
    message(consoles, f"{summary}, {result.count('exists')} already existed, in namespace {result.namespace}.")
    for report in result.actors:
        if not report.ok:
            message(consoles, f"{report.name}: {report.state} {report.error}".rstrip(), "red")
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)
