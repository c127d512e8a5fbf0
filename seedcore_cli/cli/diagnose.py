"""`seedcore diagnose`: every check, a verdict, exit 1 when any fails. Never imports ray here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from seedcore_cli.cli.context import application
from seedcore_cli.cli.options import NamespaceOption
from seedcore_cli.cli.output import OutputFormat, OutputOption, message, print_json, print_table

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


# diagnose reports within ~20 s whatever the cluster does (with the default --timeout): a
# connection still not made after 8 s is a finding, and each check has its own bound (about
# 2 x --timeout); the watchdog is the last resort behind them.
CONNECT_WAIT_S = 8.0


def diagnose(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    output: OutputOption = OutputFormat.table,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 1).")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0.2, max=30.0,
                                           help="Seconds each probe or actor call may take.")] = 2.0,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="Organism config to compare against. [env: SEEDCORE_ORGANISM_CONFIG]",
        show_default=False)] = None,
) -> None:
    """Name the cause of a Ray connection problem: config, install, address, ports, namespace, actors."""
    from seedcore_cli.diagnose import Inputs, run

    seedcore = application(ctx)
    attempt = seedcore.try_connect(namespace=namespace, wait_at_most=CONNECT_WAIT_S)
    with seedcore.work(max(12.0, 6 * timeout)):
        report = run(Inputs(attempt, timeout=timeout, organism_config=config), strict=strict)
    _render(ctx, report, output)
    raise typer.Exit(report.exit_code)


def _render(ctx: typer.Context, report, output: OutputFormat) -> None:
    consoles = application(ctx).consoles
    if output == OutputFormat.json:
        print_json(report.to_dict())
        return
    print_table(consoles, ["check", "status", "seen", "hint"],
                [(r.id, r.status.upper(), r.seen, r.hint) for r in report.checks])
    if application(ctx).verbose:
        print_table(consoles, ["check", "detail", "value"],
                    [(r.id, name, value) for r in report.checks for name, value in r.details], title="Details")
    message(consoles, f"Verdict: {report.verdict.upper()} ({report.summary()})", _STYLE[report.verdict])
