"""`seedcore actors list`: the deployment's actors from Ray's State API. Never imports ray.

The listing itself is `seedcore_cli.organism.inventory` (REST to the dashboard, safe through Ray Client);
this module parses flags, calls it, and renders. `table_rows()` is the pure row formatter the
benchmark times.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Annotated, Any, Optional

import typer

from seedcore_cli.cli.context import Application, application
from seedcore_cli.cli.options import NamespaceOption
from seedcore_cli.cli.output import Consoles, OutputFormat, build_table, message, print_json, print_table
from seedcore_cli.errors import SeedcoreError
from seedcore_cli.organism import inventory

app = typer.Typer(help="Inspect the deployment's Ray actors.", no_args_is_help=True)

StateChoice = enum.Enum("StateChoice", {s: s for s in inventory.ACTOR_STATES}, type=str)  # type: ignore[misc]

COLUMNS = ("name", "class", "state", "namespace", "node", "pid")
DETAIL_COLUMNS = ("restarts", "death cause", "detached", "resources", "actor id")
NODE_ID_CHARS = 8  # the table shows node ids shortened, like container ids; JSON has them whole
# Rich lays a table out cell by cell (~0.25 ms a row here): fine for a screenful, seconds for
# thousands. Above this many rows the table is written as plain aligned columns instead.
RICH_MAX_ROWS = 1000


def _resources(resources: dict[str, float] | None) -> str:
    if not resources:
        return "-"
    return ", ".join(f"{key}={value:g}" if isinstance(value, (int, float)) else f"{key}={value}"
                     for key, value in sorted(resources.items()))


def table_rows(rows: Sequence[inventory.ActorRow], detail: bool = False) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """(columns, cells) for the table: pure, no I/O (the benchmark times it with 5,000 rows)."""
    columns = COLUMNS + DETAIL_COLUMNS if detail else COLUMNS
    cells: list[tuple[str, ...]] = []
    for row in rows:
        base: tuple[str, ...] = (row.name or "-", row.class_name, row.state, row.namespace,
                row.node_id[:NODE_ID_CHARS] or "-", str(row.pid) if row.pid else "-")
        if detail:
            base += ("-" if row.num_restarts is None else str(row.num_restarts),
                     row.death_cause or "-",
                     "-" if row.is_detached is None else ("yes" if row.is_detached else "no"),
                     _resources(row.required_resources), row.actor_id)
        cells.append(base)
    return columns, cells


def plain_table(columns: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """Columns aligned with two spaces, a header line, no markup: pure and fast (5,000 rows ~10 ms)."""
    clean = [[" ".join(cell.split()) for cell in row] for row in cells]  # one line per cell
    widths = [len(c) for c in columns]
    for row in clean:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in clean]
    return "\n".join(lines) + "\n"


def render_text(rows: Sequence[inventory.ActorRow], detail: bool = False, width: int = 200) -> str:
    """The table exactly as `actors list` prints it off a terminal, as a string (for the benchmark)."""
    import io

    from rich.console import Console

    columns, cells = table_rows(rows, detail)
    if len(cells) > RICH_MAX_ROWS:
        return plain_table(columns, cells)
    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, highlight=False).print(build_table(columns, cells))
    return buffer.getvalue()


def json_rows(rows: Sequence[inventory.ActorRow]) -> list[dict[str, Any]]:
    return [row.to_dict() for row in rows]


def _hint(seedcore: Application, listing: inventory.ActorListing, conn, timeout: float) -> str | None:
    """The namespace hint, only when the current namespace showed nothing: a second, optional
    query, with a deadline of its own (at most 2 s)."""
    if listing.total or listing.query.namespace is None:
        return None
    seedcore.rearm()
    try:
        found = inventory.namespace_hint(conn, listing.query.namespace, listing.query.name_globs,
                                         timeout=min(2.0, timeout))
    except SeedcoreError:  # the listing already answered; a failed hint must not hide it
        return None
    return f"{found.text}: try --namespace {found.namespace} or --all-namespaces" if found else None


def show(consoles: Consoles, listing: inventory.ActorListing, output: OutputFormat, hint: str | None) -> None:
    """Data on stdout (table or JSON), notes on stderr."""
    for warning in listing.warnings:
        message(consoles, f"Warning: {warning}", "yellow")
    if output == OutputFormat.json:
        print_json(json_rows(listing.rows))
    elif len(listing.rows) > RICH_MAX_ROWS:
        consoles.out.file.write(plain_table(*table_rows(listing.rows, listing.query.detail)))
        consoles.out.file.flush()
    elif listing.rows:
        print_table(consoles, *table_rows(listing.rows, listing.query.detail))
    else:
        where = f"namespace {listing.query.namespace!r}" if listing.query.namespace else "any namespace"
        message(consoles, f"No actors matched in {where}.")
    shown = listing.shown_of()
    if shown:
        message(consoles, f"{shown[0].upper() + shown[1:]}; use --limit to see more.")
    if hint:
        message(consoles, f"Hint: {hint}", "yellow")


@app.command("list")
def list_command(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    all_namespaces: Annotated[bool, typer.Option("-A", "--all-namespaces", help="Every namespace, not just the current one.")] = False,
    state: Annotated[Optional[list[StateChoice]], typer.Option(
        "--state", case_sensitive=False, metavar="STATE", show_default=False,
        help=f"Only actors in this state (repeatable): {', '.join(inventory.ACTOR_STATES)}.")] = None,
    class_name: Annotated[Optional[str], typer.Option("--class", metavar="CLASS", help="Only actors of this class (exact).", show_default=False)] = None,
    name: Annotated[Optional[list[str]], typer.Option(
        "--name", metavar="GLOB", help="Only actors whose name matches this glob, e.g. '*_organ_*' (repeatable).", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", min=1, max=inventory.MAX_LIMIT, help="Show at most N rows.")] = inventory.DEFAULT_LIMIT,
    detail: Annotated[bool, typer.Option("--detail", help="Add restarts, death cause, detached, resources, actor id.")] = False,
    output: Annotated[OutputFormat, typer.Option("-o", "--output", help="table or json (JSON rows are always full)")] = OutputFormat.table,
    timeout: Annotated[float, typer.Option("--timeout", min=0.5, max=300.0,
                                           help="Seconds the State API may take to answer.")] = inventory.DEFAULT_TIMEOUT_S,
) -> None:
    """List actors (every state, like `ray list actors`), sorted by namespace, then name."""
    seedcore = application(ctx)
    conn = seedcore.connect(namespace=namespace)
    with seedcore.work(timeout):
        listing = inventory.list_actors(
            conn, namespace=None if all_namespaces else conn.namespace, states=[s.value for s in state or []],
            class_name=class_name, name_globs=name or [], limit=limit,
            detail=detail or output == OutputFormat.json, timeout=timeout)
        if seedcore.verbose:
            message(seedcore.consoles, f"listed through the State API at {listing.dashboard_url}")
        show(seedcore.consoles, listing, output, _hint(seedcore, listing, conn, timeout))
