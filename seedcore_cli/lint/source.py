"""A file's bytes to a syntax tree, or to the reason it cannot be checked (an SC000 problem).

Reading never blocks on a special file (discovery passes regular files only) and never reads
more than MAX_BYTES + 1. Parsing uses the target version (`feature_version`): syntax newer than
the target is an error; syntax newer than this interpreter is a warning, "not checked (needs
Python 3.X)" (versions.needed_minor). Positions are 1-based lines and character columns
(Columns converts ast's UTF-8 byte offsets, decoding only files that are not ASCII).
`# noqa` comments are read from the lines that mention noqa only.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from seedcore_cli.lint import versions
from seedcore_cli.lint.rules import ERROR, WARNING

MAX_BYTES = 5 * 1024 * 1024
Pos = tuple[int, int, int, int]  # line, column, end line, end column (1-based, characters)
Problem = tuple[str, str, Pos]  # severity, message, where


def read(path: str, problems: list[Problem]) -> bytes | None:
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as err:
        return _skip(problems, f"not checked: cannot read it ({err.strerror or err})")
    if len(data) > MAX_BYTES:
        return _skip(problems, f"not checked: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    if b"\0" in data:
        return _skip(problems, "not checked: a binary file, not Python source")
    return data


def _skip(problems: list[Problem], message: str) -> bytes | None:
    problems.append((WARNING, message, (1, 1, 1, 1)))
    return None  # no data to scan


def parse(data: bytes, path: str, target: int, problems: list[Problem]) -> ast.Module | None:
    """The tree, parsed for the target version; else the file's SC000 problem."""
    try:
        return ast.parse(data, filename=path, feature_version=(3, min(target, versions.RUNNING)))
    except SyntaxError as err:
        problems.append(_syntax_problem(data, target, err))
    except (RecursionError, MemoryError):
        problems.append((ERROR, "too deeply nested to parse (Python itself cannot compile it)", (1, 1, 1, 1)))
    except ValueError as err:
        problems.append((ERROR, f"cannot be parsed: {err}", (1, 1, 1, 1)))
    return None


def _syntax_problem(data: bytes, target: int, err: SyntaxError) -> Problem:
    """An error, or a warning when the file is written for a newer Python than this one."""
    line = max(err.lineno or 1, 1)
    col = max(err.offset or 1, 1)
    where = (line, col, max(getattr(err, "end_lineno", None) or line, line), max(getattr(err, "end_offset", None) or col, col))
    message = f"syntax error: {err.msg}"
    if target < versions.RUNNING and _parses(data):
        return ERROR, f"{message} (target version {versions.label(target)})", where
    needed = None if err.msg.startswith("unknown encoding") else \
        versions.needed_minor(data.decode("utf-8", "replace"), line, err.msg, target)
    if needed is not None and needed > versions.RUNNING:
        return WARNING, (f"not checked (needs Python {versions.label(needed)}; lint runs on "
                         f"{versions.label(versions.RUNNING)})"), where
    return ERROR, message, where


def _parses(data: bytes) -> bool:
    try:
        ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


class Columns:
    """Byte offsets (what ast gives) -> character columns, decoding only files that need it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ascii = data.isascii()
        self.lines: list[str] | None = None

    def text(self) -> str:
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(self.data).readline)
            return self.data.decode(encoding, "replace")
        except (SyntaxError, LookupError):
            return self.data.decode("utf-8", "replace")

    def column(self, line: int, offset: int) -> int:
        if self.ascii or offset <= 0:
            return max(offset, 0) + 1
        if self.lines is None:
            self.lines = re.split(r"\r\n|\r|\n", self.text())
        row = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return len(row.encode("utf-8")[:offset].decode("utf-8", "ignore")) + 1

    def pos(self, node: ast.AST) -> Pos:
        line = getattr(node, "lineno", 1)
        end = getattr(node, "end_lineno", None) or line
        return (line, self.column(line, getattr(node, "col_offset", 0)), end,
                self.column(end, getattr(node, "end_col_offset", None) or 0))


_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_NOQA_LINE = re.compile(r"(?m)^.*#\s*noqa.*$", re.IGNORECASE)


def noqa_comments(text: str) -> dict[int, frozenset[str] | None]:
    """Line -> the codes its `# noqa: ...` comment names (None for a bare `# noqa`).

    Only lines that mention noqa are looked at (a file-wide tokenize would cost a third of the
    scan); a `#` inside a string on that line is told apart by counting the quotes before it."""
    found: dict[int, frozenset[str] | None] = {}
    for line_match in _NOQA_LINE.finditer(text):
        row = line_match.group(0)
        for match in _NOQA.finditer(row):
            before = row[:match.start()]
            if before.count('"') % 2 or before.count("'") % 2:
                continue  # inside a string literal
            line = text.count("\n", 0, line_match.start()) + 1
            codes = match.group("codes")
            found[line] = frozenset(c.upper() for c in re.split(r"[\s,]+", codes) if c) if codes else None
            break
    return found
