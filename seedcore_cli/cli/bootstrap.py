"""`seedcore bootstrap`: bring the organism up (singletons, organs, agents). Never imports ray.

The command connects first (starting the embedded local cluster when nothing runs, no address is
configured and this is not a dry run); `--config` was read and validated while the flags were
parsed, before that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from seedcore_cli.cli.context import application
from seedcore_cli.cli.options import ConfigOption, NamespaceOption, OutputFormat, OutputOption, loaded_config
from seedcore_cli.cli.organism import SINGLETON_NAMES, progress
from seedcore_cli.cli.output import Consoles, message, print_json, print_table
from seedcore_cli.errors import EXIT_FAILED
from seedcore_cli.organism.model import Action

if TYPE_CHECKING:
    from seedcore_cli.organism.manager import BootstrapResult, OrganismManager

COLUMNS = ["name", "kind", "class", "action", "state", "node", "options"]
CAPACITY_COLUMNS = ["resource", "asked", "to create", "available", "total"]
REPAIRS_SHOWN = 5


def bootstrap(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    config: ConfigOption = None,
    singletons_only: Annotated[bool, typer.Option(
        "--singletons-only", help=f"Only {SINGLETON_NAMES}.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Connect and report what would be created (options, capacity); create nothing.")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1.0, help="Seconds to wait for the actors to come up.")] = 120.0,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Bring the SeedCore organism up: singletons, organs and agents (idempotent)."""
    seedcore = application(ctx)
    seedcore.connect(namespace=namespace, start_local=not dry_run)
    consoles = seedcore.consoles
    with seedcore.work(timeout):
        organism = seedcore.organism_manager(loaded_config(ctx))
        if seedcore.verbose:
            explain_options(consoles, organism, singletons_only)
        with progress(consoles, "Starting actors") as on_progress:
            result = organism.initialize(singletons_only=singletons_only, dry_run=dry_run, timeout=timeout,
                                         progress=on_progress)
    show(consoles, output, result)
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


def explain_options(consoles: Consoles, organism: OrganismManager, singletons_only: bool) -> None:
    """-v: what the config accepted and ignored, and where each actor's option values came from."""
    from seedcore_cli.organism.capacity import names_phrase
    from seedcore_cli.organism.options import spec_options

    for note in organism.config.notes:
        message(consoles, f"Note: {note}")
    groups: dict = {}
    for spec in organism.specs(singletons_only):
        groups.setdefault(spec_options(spec), []).append(spec.name)
    for options, names in groups.items():
        message(consoles, f"options of {names_phrase(names)}: {options.describe_sources()}")


def show(consoles: Consoles, output: OutputFormat, result: BootstrapResult) -> None:
    """The actors (and, for a dry run, the capacity plan) on stdout; the summary on stderr."""
    plan = result.capacity_plan
    if output == OutputFormat.json:
        print_json(result.to_dict())
    else:
        options = {name: opts.summary() for name, opts in result.options.items()}
        print_table(consoles, COLUMNS, [(r.name, r.kind, r.class_name, r.action, r.state, r.node,
                                         options.get(r.name, "")) for r in result.actors])
        if result.dry_run and plan is not None:
            from seedcore_cli.organism.options import format_quantity

            print_table(consoles, CAPACITY_COLUMNS, [
                (line.resource, *(format_quantity(line.resource, amount) for amount in
                                  (line.asked, line.to_create, line.available, line.total)))
                for line in plan.resources], title="Capacity: asked vs offered")
    repaired = result.count(Action.WOULD_REPAIR if result.dry_run else Action.REPAIRED)
    if result.dry_run:
        summary = f"Dry run: {result.count(Action.WOULD_CREATE)} actor(s) would be created"
    else:
        summary = f"{result.count(Action.CREATED)} actor(s) created"
    if repaired:
        summary += f", {repaired} {'would be ' if result.dry_run else ''}repaired (created again where one died)"
    message(consoles, f"{summary}, {result.count(Action.EXISTS)} already existed, in namespace {result.namespace}.")
    for shortfall in plan.shortfalls if plan is not None else ():
        message(consoles, f"Would not fit: {shortfall}", "red")
    died = [report for report in result.actors if report.ok and report.previous_death]
    for report in died[:REPAIRS_SHOWN]:
        message(consoles, f"{report.name} {report.action}: it had died ({report.previous_death})")
    if len(died) > REPAIRS_SHOWN:
        message(consoles, f"and {len(died) - REPAIRS_SHOWN} more repaired (-o json: previous_death)")
    for report in result.actors:
        if not report.ok:
            message(consoles, f"{report.name}: {report.state} {report.error}".rstrip(), "red")
