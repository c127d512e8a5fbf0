"""Findings as text: the output formats (text, concise, json, github, sarif) and the summary line.

Every format is a pure function of the Report: a string for stdout (or a file), with no
colour and no markup; the summary is a separate line for stderr. JSON keys are stable; SARIF is
version 2.1.0 with each rule's metadata from the rule table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from seedcore_cli.lint.model import Finding, Report
from seedcore_cli.lint.rules import ERROR, RULES

FORMATS = ("text", "concise", "json", "github", "sarif")
TOOL = "seedcore-lint"


def render(report: Report, fmt: str, version: str = "") -> str:
    writers: dict[str, Callable[[Report, str], str]] = {
        "text": _text, "concise": _concise, "json": _json, "github": _github, "sarif": _sarif}
    return writers[fmt](report, version)


def _text(report: Report, version: str) -> str:
    return "".join(f"{f.text()}\n  help: {f.fix} ({f.rule} {f.name}: {f.url})\n" for f in report.findings)


def _concise(report: Report, version: str) -> str:
    return "".join(f.text() + "\n" for f in report.findings)


def _json(report: Report, version: str) -> str:
    return json.dumps([f.to_dict() for f in report.findings], indent=2, sort_keys=True) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(report: Report, version: str) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    lines = []
    for f in report.findings:
        level = "error" if f.severity == ERROR else "warning"
        props = (f"title={_escape_property(f'seedcore lint ({f.rule})')},file={_escape_property(f.path)},"
                 f"line={f.line},col={f.col},endLine={f.end_line},endColumn={f.end_col}")
        lines.append(f"::{level} {props}::{_escape_data(f.text())}\n")
    return "".join(lines)


def _uri(path: str) -> str:
    """A file: URI for an absolute path, else a relative reference, percent-encoded either way."""
    candidate = Path(path)
    return candidate.as_uri() if candidate.is_absolute() else quote(candidate.as_posix())


def _sarif_rule(rule_id: str) -> dict:
    """A rule's metadata. No helpUri: SARIF wants an absolute URI there and the rules page has none
    (it ships with seedcore); the help says where the documentation is instead."""
    rule = RULES[rule_id]
    more = f"`seedcore lint --explain {rule.id}` prints the whole documentation ({rule.url} in seedcore)."
    return {
        "id": rule.id, "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.finds},
        "help": {"text": f"{rule.why}\n\nFix: {rule.fix}.\n\n{more}",
                 "markdown": f"{rule.why}\n\n**Fix:** {rule.fix}.\n\n```python\n{rule.after}```\n\n{more}"},
        "defaultConfiguration": {"level": "error" if rule.severity == ERROR else "warning"},
        "properties": {"tags": ["ray", "connection"]},
    }


def _sarif_result(finding: Finding, index: dict[str, int]) -> dict:
    return {
        "ruleId": finding.rule, "ruleIndex": index[finding.rule],
        "level": "error" if finding.severity == ERROR else "warning",
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": _uri(finding.path)},
            "region": {"startLine": finding.line, "startColumn": finding.col,
                       "endLine": finding.end_line, "endColumn": finding.end_col}}}],
    }


def _sarif(report: Report, version: str) -> str:
    ids = list(RULES)
    index = {rule: number for number, rule in enumerate(ids)}
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL, "version": version or "0", "rules": [_sarif_rule(rule) for rule in ids]}},
            "results": [_sarif_result(finding, index) for finding in report.findings],
            "invocations": [{"executionSuccessful": not report.internal_errors}],
        }],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def summary(report: Report) -> str:
    """The line for stderr: files checked, findings by severity, time, rules seen."""
    files = f"{report.checked} file(s) checked"
    if report.not_checked:
        files += f", {report.not_checked} not checked"
    counts = f"{len(report.findings)} finding(s), {report.errors} error(s), {report.warnings} warning(s)"
    if report.suppressed:
        counts += f", {report.suppressed} suppressed by noqa"
    rules = sorted({f.rule for f in report.findings})
    return f"{files}; {counts} in {report.seconds:.2f} s" + (f"; rules: {', '.join(rules)}" if rules else "")
