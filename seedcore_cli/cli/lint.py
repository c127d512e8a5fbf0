"""`seedcore lint [PATH...]`: find the code patterns that cause Ray connection conflicts (AST only:
never imports Ray, never connects). The work is seedcore_cli.lint's; this module only maps
options to it and its Report to output and an exit code."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from seedcore_cli.cli.context import application
from seedcore_cli.cli.output import message
from seedcore_cli.errors import EXIT_FAILED, BadInput, SeedcoreError, bare


class LintFormat(str, enum.Enum):
    text = "text"
    concise = "concise"
    json = "json"
    github = "github"
    sarif = "sarif"


class FailOn(str, enum.Enum):
    error = "error"
    warning = "warning"


_RULES = "RULES"
_LABELS = {"select": "--select", "ignore": "--ignore", "target_version": "--target-version", "config": "--config"}


def lint(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(
        metavar="PATH", help="Files or directories to check (*.py). [default: .]", show_default=False,
        readable=False)] = None,  # an unreadable path given is a finding (not checked), as one found below a directory
    output: Annotated[LintFormat, typer.Option(
        "-o", "--output", "--output-format", help="text, concise (path:line:col: SCnnn message), json, "
        "github (Actions annotations) or sarif (2.1.0)")] = LintFormat.text,
    output_file: Annotated[Path | None, typer.Option(
        "--output-file", metavar="FILE", help="Write the findings to this file instead of stdout.", show_default=False,
        readable=False)] = None,
    select: Annotated[str | None, typer.Option(
        "--select", metavar=_RULES, show_default=False, help="Only these rules: ids, prefixes (SC00) or ALL.")] = None,
    ignore: Annotated[str | None, typer.Option(
        "--ignore", metavar=_RULES, show_default=False, help="Not these rules (ids, prefixes or ALL).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", metavar="GLOBS", show_default=False,
        help="Globs to skip below the paths, replacing the default list (repeat, or comma-separate).")] = None,
    extend_exclude: Annotated[list[str] | None, typer.Option(
        "--extend-exclude", metavar="GLOBS", show_default=False,
        help="Globs to skip as well as the default list (repeat, or comma-separate).")] = None,
    target_version: Annotated[str | None, typer.Option(
        "--target-version", metavar="py3XX", show_default=False,
        help="The oldest Python the code supports. [default: from requires-python]")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", metavar="FILE", show_default=False, help="Read [tool.seedcore.lint] from this pyproject.toml.")] = None,
    isolated: Annotated[bool, typer.Option("--isolated", help="Ignore every pyproject.toml.")] = False,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even with findings.")] = False,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="Exit 1 on findings of this severity or worse.")] = FailOn.error,
    explain: Annotated[str | None, typer.Option(
        "--explain", metavar="RULE", show_default=False, help="Print a rule's documentation and exit.")] = None,
) -> None:
    """Check Python code for Ray connection conflicts: extra ray.init sites, allow_multiple,
    import-time connects and managers. Exit 1 on any error-severity finding."""
    from seedcore_cli import lint as linter

    with _bugs_exit_2():
        if explain is not None:
            typer.echo(linter.explain(explain, "--explain"), nl=False)
            return
        given = paths or [Path(".")]
        report = linter.run(given, linter.load(given, linter.Overrides(
            select, ignore, exclude, extend_exclude, target_version, config, isolated, _LABELS)))
        _emit(ctx, report, output.value, output_file)
    raise typer.Exit(_exit_code(report, exit_zero, fail_on))


@contextlib.contextmanager
def _bugs_exit_2() -> Iterator[None]:
    """A bug in lint is exit 2 (ruff's convention: the check did not run), not the app's exit 1."""
    from seedcore_cli.lint.model import LintInternalError

    try:
        yield
    except (SeedcoreError, typer.Exit, typer.Abort, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as err:
        raise LintInternalError(f"internal error: {type(err).__name__}: {err}",
                                "rerun with -v for the traceback") from err


def _emit(ctx: typer.Context, report, fmt: str, output_file: Path | None) -> None:
    from seedcore_cli import __version__
    from seedcore_cli.lint import report as formats

    text = formats.render(report, fmt, __version__)
    if output_file is None:
        typer.echo(text, nl=False)
    else:
        try:
            output_file.write_text(text, encoding="utf-8")
        except OSError as err:
            raise BadInput(f"cannot write {bare(str(output_file))}: {err.strerror or err}",
                           "pass a writable --output-file") from None
    consoles = application(ctx).consoles
    if not report.checked and not report.not_checked:
        message(consoles, "warning: no Python files found (check the paths and the excludes)", "yellow")
    for line in report.internal_errors:
        message(consoles, f"Error: internal error in {line}", "red")
    message(consoles, formats.summary(report))


def _exit_code(report, exit_zero: bool, fail_on: FailOn) -> int:
    if report.internal_errors:
        return 2  # ruff's code for its own failures
    failing = report.errors + (report.warnings if fail_on == FailOn.warning else 0)
    return EXIT_FAILED if failing and not exit_zero else 0
