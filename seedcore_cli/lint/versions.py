"""Python versions: the target version a project declares, and syntax newer than this interpreter.

lint parses with the interpreter it runs on. A file that fails to parse is either broken (an SC000
error) or written for a newer Python (a warning: "not checked (needs Python 3.X)", never an
error). `needed_minor` tells the two apart from the syntax error's place and a few signatures of
newer grammar (PEP 695/696 type parameters, PEP 701 f-strings, PEP 750 t-strings, PEP 758 except
lists); when it cannot tell and the target is newer than this interpreter, the file counts as
newer. Versions are minor numbers of Python 3 (10 means 3.10).
"""

from __future__ import annotations

import re
import sys

from seedcore_cli.errors import BadInput, quoted

RUNNING = sys.version_info.minor
OLDEST = 7  # the oldest target lint accepts (ast.parse understands feature_version 3.7 and later)

_TARGET = re.compile(r"(?:py|python)?3\.?(\d{1,2})")
_LOWER_BOUND = re.compile(r"(>=|~=|==|>)\s*3\.(\d+)")

# (minor, pattern) newest first: the newest signature found decides.
_SIGNATURES = (
    (14, re.compile(r"(?m)^\s*except\*?\s+[^\s(:][^:(]*,[^:]*:")),  # PEP 758: except A, B:
    (14, re.compile(r"(?<![\w.'\"])(?:[tT][rR]?|[rR][tT])['\"]")),  # PEP 750 t-strings
    (13, re.compile(r"(?m)^\s*(?:async\s+def|def|class|type)\s+\w+\s*\[[^\]]*=")),  # PEP 696 defaults
    (12, re.compile(r"(?m)^\s*type\s+\w+\s*(?:\[[^\]]*\])?\s*=")),  # PEP 695 type statement
    (12, re.compile(r"(?m)^\s*(?:async\s+def|def|class)\s+\w+\s*\[")),  # PEP 695 type parameters
)
_FSTRING = re.compile(r"(?<![\w.'\"])(?:[fF][rRbB]?|[rR][fF])['\"]")


def parse_target(text: str, source: str) -> int:
    """'py312', '3.12', 'python3.12' -> 12; bad input otherwise."""
    found = _TARGET.fullmatch(text.strip().lower())
    if not found or not OLDEST <= int(found.group(1)) <= 99:
        raise BadInput(f"target version {quoted(text)} is not a Python version (from {source})",
                       "write it as py310 or 3.10")
    return int(found.group(1))


def from_requires_python(spec: str) -> int | None:
    """The oldest minor a `requires-python` specifier admits ('>=3.10,<4' -> 10), if it names one."""
    minors = [int(minor) + (1 if op == ">" else 0) for op, minor in _LOWER_BOUND.findall(spec)]
    return min(minors) if minors else None


def needed_minor(text: str, error_line: int, message: str, target: int) -> int | None:
    """The Python minor a file that did not parse here was written for, or None: it is broken."""
    for minor, pattern in _SIGNATURES:
        if minor > RUNNING and pattern.search(text):
            return minor
    if RUNNING < 12 and _pep701(text, error_line, message):
        return 12
    return target if target > RUNNING else None


def _pep701(text: str, line: int, message: str) -> bool:
    """Before 3.12, what PEP 701 allows in f-strings (quotes reused, backslashes, comments) fails
    with an f-string error, or as a stray backslash on a line that holds an f-string."""
    if message.startswith("f-string"):
        return True
    rows = text.splitlines()
    row = rows[line - 1] if 0 < line <= len(rows) else ""
    return message.startswith("unexpected character after line continuation") and bool(_FSTRING.search(row))


def label(minor: int) -> str:
    return f"3.{minor}"
