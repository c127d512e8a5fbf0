"""`seedcore connections`: every live driver, Ray Client session and Ray Job on the cluster, by
namespace, with the detached actors each owns; seedcore's own connection marked."""

from __future__ import annotations

from typing import Annotated

import typer

from seedcore_cli.cli.context import application
from seedcore_cli.cli.options import NamespaceOption, OutputFormat, OutputOption
from seedcore_cli.cli.output import build_table, message, print_json


def connections(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    include_finished: Annotated[bool, typer.Option("--all", help="Finished ones too.")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show who is connected to the cluster and in which namespace (drivers, Ray Client, Ray Jobs)."""
    from seedcore_cli.ray_boundary import drivers as sessions

    seedcore = application(ctx)
    connection = seedcore.connect(namespace=namespace)
    with seedcore.work():
        found = sessions.list_sessions(connection, include_finished=include_finished)
    consoles = seedcore.consoles
    if output == OutputFormat.json:
        print_json([session.to_dict() for session in found.sessions])
    else:
        consoles.out.print(build_table(COLUMNS, [_row(session) for session in found.sessions]))
    if not found.namespaces_read:
        message(consoles, f"Warning: {found.note}; namespaces shown as unknown", "yellow")
    live = {s.namespace for s in found.sessions if s.alive}
    count = sum(1 for s in found.sessions if s.alive)
    message(consoles, f"{count} live connection(s) in {len(live)} namespace(s); * marks this seedcore process")


COLUMNS = ["namespace", "kind", "job", "pid", "node", "started", "alive", "detached actors", "entrypoint"]


def _row(s) -> tuple[str, ...]:
    """One table row; sessions come sorted by namespace, so the rows group by it."""
    owned = "; ".join(f"{ns}: {', '.join(names)}" for ns, names in sorted(s.actors.items())) or "-"
    return (s.namespace + (" (anonymous)" if s.anonymous else ""), ("* " if s.is_self else "") + s.kind,
            s.job_id, str(s.pid or "-"), s.node_ip or "-", s.start_time, "yes" if s.alive else "no", owned,
            s.entrypoint[:80])
