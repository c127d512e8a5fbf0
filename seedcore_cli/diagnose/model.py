"""The plain results `diagnose` produces: one CheckResult per check, and the Report of them all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
STATUSES = (OK, WARN, FAIL, SKIP)


@dataclass(frozen=True)
class CheckResult:
    """One check: its id, ok/warn/fail/skip, what was seen, and (for warn or fail) a hint.

    details: (name, value) pairs shown with -v and in JSON (values already masked).
    """

    id: str
    status: str
    seen: str
    hint: str = ""
    title: str = ""
    seconds: float = 0.0
    details: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown check status {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "seen": self.seen,
            "hint": self.hint,
            "seconds": self.seconds,
            "details": dict(self.details),
        }


def ok(id: str, seen: str, **kw) -> CheckResult:
    return CheckResult(id, OK, seen, **kw)


def warn(id: str, seen: str, hint: str, **kw) -> CheckResult:
    return CheckResult(id, WARN, seen, hint, **kw)


def fail(id: str, seen: str, hint: str, **kw) -> CheckResult:
    return CheckResult(id, FAIL, seen, hint, **kw)


def skip(id: str, reason: str, **kw) -> CheckResult:
    return CheckResult(id, SKIP, reason, **kw)


@dataclass(frozen=True)
class Report:
    """Every check in registry order, and the verdict. strict: warnings count as failures."""

    checks: tuple[CheckResult, ...]
    strict: bool = False
    seconds: float = 0.0

    def by_id(self, check_id: str) -> CheckResult:
        for result in self.checks:
            if result.id == check_id:
                return result
        raise KeyError(check_id)

    def count(self, status: str) -> int:
        return sum(1 for result in self.checks if result.status == status)

    @property
    def verdict(self) -> str:
        """'fail' if any check failed (or warned, with strict), 'warn' if any warned, else 'ok'."""
        if self.count(FAIL) or (self.strict and self.count(WARN)):
            return FAIL
        return WARN if self.count(WARN) else OK

    @property
    def exit_code(self) -> int:
        return 1 if self.verdict == FAIL else 0

    def summary(self) -> str:
        parts = [f"{self.count(s)} {name}" for s, name in
                 ((FAIL, "failed"), (WARN, "warning(s)"), (OK, "ok"), (SKIP, "skipped")) if self.count(s)]
        strict = " (strict: warnings fail)" if self.strict and self.count(WARN) else ""
        return f"{', '.join(parts)} in {self.seconds:.1f} s{strict}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "strict": self.strict,
            "seconds": self.seconds,
            "counts": {s: self.count(s) for s in STATUSES},
            "checks": [result.to_dict() for result in self.checks],
        }
