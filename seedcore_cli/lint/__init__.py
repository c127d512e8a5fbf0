"""`seedcore lint`: a static (AST) scan of Python code for the patterns that cause Ray
connection conflicts. It never imports Ray and never connects: paths in, a Report out.

The package, in the order a run uses it: config (pyproject's [tool.seedcore.lint] and the
command line), files (discovery, excludes, what each file is), scanner (one file's Facts,
picklable, so files are scanned in parallel), analysis (the resolved call graph and the
rules' findings), engine (the run: selection, per-file-ignores, noqa), report (text, concise,
json, github, sarif). rules holds each rule's single source of documentation. Only cli/ knows
Typer; nothing here prints or exits.
"""

from __future__ import annotations

from seedcore_cli.errors import BadInput
from seedcore_cli.lint.config import Config, Overrides, load
from seedcore_cli.lint.engine import lint, run
from seedcore_cli.lint.model import Finding, Report
from seedcore_cli.lint.rules import ERROR, RULES, WARNING, Rule, explain
from seedcore_cli.lint.scanner import MAX_BYTES


def parse_rules(text: str | None, source: str) -> set[str]:
    """'SC001,SC004' -> {'SC001', 'SC004'}: selectors (ids, prefixes, ALL); unknown ones are bad input."""
    from seedcore_cli.lint.rules import check_selectors, split_codes

    return set(check_selectors(split_codes(text), source))


__all__ = [
    "ERROR",
    "MAX_BYTES",
    "RULES",
    "WARNING",
    "BadInput",
    "Config",
    "Finding",
    "Overrides",
    "Report",
    "Rule",
    "explain",
    "lint",
    "load",
    "parse_rules",
    "run",
]
