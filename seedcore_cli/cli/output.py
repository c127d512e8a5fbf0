"""The console pair and the renderers: data to stdout, messages to stderr.

JSON goes out plainly (json.dumps, sorted keys, no Rich markup, so `[prod]` survives) and is the
only thing on stdout in JSON mode. Rich honours NO_COLOR; --no-color forces it off; off a
terminal there are no ANSI codes, no spinners, and tables are not squeezed to 80 columns.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"


# `-o/--output` on every command that prints data.
OutputOption = Annotated[OutputFormat, typer.Option("-o", "--output", help="table or json")]


@dataclass
class Consoles:
    out: Console
    err: Console

    @property
    def interactive(self) -> bool:
        """stderr is a terminal: progress and spinners are allowed."""
        return self.err.is_terminal


def _columns(default: int = 200) -> int:
    """Table width off a terminal: COLUMNS if it is a sane number, else wide (no squeezing)."""
    text = os.environ.get("COLUMNS", "")
    return int(text) if text.isascii() and text.isdigit() and 20 <= int(text) <= 10_000 else default


def make_consoles(no_color: bool = False) -> Consoles:
    color_off = no_color or "NO_COLOR" in os.environ
    width = None if sys.stdout.isatty() else _columns()
    return Consoles(
        out=Console(file=sys.stdout, no_color=color_off, highlight=False, width=width,
                    soft_wrap=False),
        err=Console(file=sys.stderr, no_color=color_off, highlight=False, soft_wrap=True),
    )


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def build_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False, header_style="bold", title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        # Text(), not str: cell values are data, never Rich markup.
        table.add_row(*(Text("" if value is None else str(value)) for value in row))
    return table


def print_table(consoles: Consoles, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                title: str | None = None) -> None:
    consoles.out.print(build_table(columns, rows, title))


def render(consoles: Consoles, output: OutputFormat, data: Any, columns: Sequence[str],
           rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    """One call for the common case: JSON of `data`, or a table of `rows`."""
    if output == OutputFormat.json:
        print_json(data)
    else:
        print_table(consoles, columns, rows, title)


def message(consoles: Consoles, text: str, style: str | None = None) -> None:
    """A line for the operator on stderr (progress, notes, warnings)."""
    consoles.err.print(Text(text, style=style or ""))


def error_line(err) -> str:
    """The one stderr line for a SeedcoreError."""
    return f"Error: {err.one_line()}"
