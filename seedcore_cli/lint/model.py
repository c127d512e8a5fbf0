"""What a lint run produces: Findings and the Report that carries them with the run's counts.

Plain frozen dataclasses, so the command layer renders them and tests compare them without
knowing how they were found. A Finding's position is 1-based lines and character columns, never
below 1; its end is never before its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seedcore_cli.errors import EXIT_BAD_INPUT, SeedcoreError
from seedcore_cli.lint.rules import ERROR, RULES, WARNING


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    col: int
    rule: str
    severity: str
    message: str
    fix: str
    end_line: int = 0
    end_col: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "line", max(self.line, 1))
        object.__setattr__(self, "col", max(self.col, 1))
        if (self.end_line, self.end_col) < (self.line, self.col):
            object.__setattr__(self, "end_line", self.line)
            object.__setattr__(self, "end_col", self.col)

    @property
    def name(self) -> str:
        return RULES[self.rule].name

    @property
    def url(self) -> str:
        return RULES[self.rule].url

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "col": self.col, "end_line": self.end_line,
                "end_col": self.end_col, "rule": self.rule, "name": self.name, "severity": self.severity,
                "message": self.message, "fix": self.fix, "url": self.url}

    def text(self) -> str:
        """`path:line:col: SCnnn message`, as ruff and flake8 print it (editors and CI read it)."""
        return f"{self.path}:{self.line}:{self.col}: {self.rule} {self.message}"

    @property
    def order(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.rule)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0  # files parsed and checked
    not_checked: int = 0  # files found but not checked (SC000 warnings)
    suppressed: int = 0  # findings silenced by noqa comments
    seconds: float = 0.0
    internal_errors: list[str] = field(default_factory=list)  # bugs: exit 2

    def count(self, severity: str) -> int:
        return sum(1 for finding in self.findings if finding.severity == severity)

    @property
    def errors(self) -> int:
        return self.count(ERROR)

    @property
    def warnings(self) -> int:
        return self.count(WARNING)


class LintInternalError(SeedcoreError):
    """lint met a bug of its own (as ruff, exit 2: the code may be fine, the check did not run)."""

    exit_code = EXIT_BAD_INPUT
