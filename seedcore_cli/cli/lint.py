"""`seedcore lint PATH...`: find the code patterns that cause Ray connection conflicts (AST only:
never imports Ray, never connects)."""

from __future__ import annotations

import enum
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from seedcore_cli.cli.context import application
from seedcore_cli.cli.output import message, print_json
from seedcore_cli.errors import EXIT_FAILED


class LintFormat(str, enum.Enum):
    text = "text"
    json = "json"


def lint(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to scan (*.py).", show_default=False)],
    output: Annotated[LintFormat, typer.Option("-o", "--output", help="text (path:line:col: SCnnn message) or json")]
    = LintFormat.text,
    select: Annotated[Optional[str], typer.Option("--select", metavar="RULES", show_default=False,
                                                  help="Only these rules, e.g. SC001,SC004.")] = None,
    ignore: Annotated[Optional[str], typer.Option("--ignore", metavar="RULES", show_default=False,
                                                  help="Not these rules.")] = None,
) -> None:
    """Scan Python code for Ray connection conflicts: extra ray.init calls, allow_multiple,
    import-time connects and managers. Exit 1 on any error-severity finding."""
    from seedcore_cli import lint as linter

    started = time.monotonic()
    chosen, skipped = linter.parse_rules(select, "--select"), linter.parse_rules(ignore, "--ignore")
    findings = linter.lint(paths, select=chosen, ignore=skipped)
    if output == LintFormat.json:
        print_json([finding.to_dict() for finding in findings])
    else:
        for finding in findings:
            typer.echo(finding.text())
    errors = sum(1 for finding in findings if finding.severity == linter.ERROR)
    message(application(ctx).consoles, f"{len(findings)} finding(s), {errors} error(s), in "
                                 f"{time.monotonic() - started:.2f} s" + (
                                     "; rules: " + ", ".join(sorted({f.rule for f in findings})) if findings else ""))
    if errors:
        raise typer.Exit(EXIT_FAILED)
