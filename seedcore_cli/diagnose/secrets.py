"""Secrets are never shown: a variable whose name contains TOKEN, PASSWORD, SECRET or KEY is
masked wherever its name or value would appear (table, JSON, -v)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from seedcore_cli.diagnose.model import CheckResult

SECRET_MARKERS = ("TOKEN", "PASSWORD", "SECRET", "KEY")
MASK = "****"
# Shorter values ("1", "on") are too common to hunt for in free text; names still mask them.
_MIN_HUNTED = 4


def is_secret_name(name: str) -> bool:
    """RAY_AUTH_TOKEN is; RAY_AUTH_TOKEN_PATH (where the token lives) is not, and must show."""
    upper = name.upper()
    if upper.endswith(("_PATH", "_FILE")):
        return False
    return any(marker in upper for marker in SECRET_MARKERS)


def shown(name: str, value: str) -> str:
    """The value as it may be displayed: masked when the name marks a secret."""
    return MASK if is_secret_name(name) else value


def secret_values(*sources: Mapping[str, str]) -> frozenset[str]:
    """Every value of a secret-named variable in `sources` (environment, .env files)."""
    found = set()
    for source in sources:
        for name, value in source.items():
            if value and is_secret_name(name) and len(value.strip()) >= _MIN_HUNTED:
                found.add(value)
                found.add(value.strip())
    return frozenset(found)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of a secret value in `text`, longest first."""
    ordered = sorted((s for s in secrets if s), key=len, reverse=True)
    if not ordered or not text:
        return text
    pattern = re.compile("|".join(re.escape(s) for s in ordered))
    return pattern.sub(MASK, text)


def redact_result(result: CheckResult, secrets: Iterable[str]) -> CheckResult:
    secrets = tuple(secrets)
    if not secrets:
        return result
    return replace(
        result,
        seen=redact(result.seen, secrets),
        hint=redact(result.hint, secrets),
        details=tuple((redact(k, secrets), redact(v, secrets)) for k, v in result.details),
    )
