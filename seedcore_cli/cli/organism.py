"""`seedcore organism status|teardown`, and the manager and progress `bootstrap` shares too.
Never imports ray.

The Ray-facing work is `seedcore_cli.organism` (imported inside the commands, after they asked
the Application for the connection); this module parses, calls and renders.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from seedcore_cli.cli.context import Application, application
from seedcore_cli.cli.options import ConfigOption, NamespaceOption, OutputFormat, OutputOption, loaded_config
from seedcore_cli.cli.output import Consoles, build_table, message, print_json
from seedcore_cli.errors import EXIT_FAILED, BadInput, first_of
from seedcore_cli.organism.model import TEARDOWN_WAIT_S
from seedcore_cli.organism.names import SINGLETONS

SINGLETON_NAMES = ", ".join(list(SINGLETONS)[:-1]) + " and " + list(SINGLETONS)[-1]

if TYPE_CHECKING:
    from seedcore_cli.organism.manager import OrganismManager, TeardownItem
    from seedcore_cli.organism.status import OrganismStatus

app = typer.Typer(help="Check the SeedCore organism's health, or tear it down.", no_args_is_help=True)

WATCH_INTERVAL_S = 2.0


@contextlib.contextmanager
def progress(consoles: Consoles, what: str) -> Iterator:
    """A spinner on stderr counting ready actors, only when stderr is a terminal."""
    if not consoles.interactive:
        yield None
        return
    with consoles.err.status(f"{what}...") as status:
        yield lambda done, total: status.update(f"{what}: {done}/{total} ready")


# --- organism status ------------------------------------------------------------------------


def _age(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f} s"


def status_tables(result: OrganismStatus, agents: bool) -> list:
    organs = build_table(
        ["organ", "type", "state", "agents", "node"],
        [(organ.organ_id + (" (extra)" if organ.extra else ""), organ.organ_type, organ.state,
          f"{organ.agents_alive}/{organ.agents_expected}", organ.node) for organ in result.organs],
        title=f"Organs in namespace {result.namespace}")
    tables = [organs]
    if agents:
        tables.append(build_table(
            ["agent", "organ", "state", "idle", "tasks", "node"],
            [(agent.agent_id, agent.organ_id, agent.state, _age(agent.idle_s),
              "" if agent.tasks_processed is None else agent.tasks_processed, agent.node)
             for organ in result.organs for agent in organ.agents],
            title="Agents"))
    tables.append(build_table(["singleton", "class", "state", "node"],
                              [(item.name, item.class_name, item.state, item.node)
                               for item in result.singletons], title="Singletons"))
    tables.append(build_table(["node", "state", "actors", "asked for"],
                              [(load.node, "alive" if load.alive else ("-" if not load.node_id else "dead"),
                                len(load.actors), _asked(load.resources)) for load in result.nodes],
                              title="Placement: the organism's actors per node"))
    return tables


def _asked(resources: dict[str, float] | None) -> str:
    """'0.12 CPU, 256MiB of memory, 1 robot_arm' (what the actors on a node asked Ray for)."""
    from seedcore_cli.organism.options import format_amount

    if resources is None:
        return "unknown (no State API)"
    shown = sorted(resources.items(), key=lambda item: (item[0] not in ("CPU", "GPU", "memory"), item[0]))
    return ", ".join(format_amount(name, amount) for name, amount in shown if amount) or "nothing"


def _summary(result: OrganismStatus) -> str:
    if result.healthy:
        organs = len(result.expected_organs)
        agents = sum(organ.agents_expected for organ in result.expected_organs)
        return (f"healthy: {organs} organ(s), {agents} agent(s), {len(result.singletons)} singletons "
                f"in namespace {result.namespace}")
    problems = [f"{p.kind} {p.name}: {p.state}" + (f" ({p.detail})" if p.detail else "") for p in result.problems()]
    return f"unhealthy: {first_of(problems, 5, '; ')}"


@app.command()
def status(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    config: ConfigOption = None,
    agents: Annotated[bool, typer.Option("--agents", help="One row per agent too: state, idle time, tasks done.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds each status call may take.")] = 5.0,
    watch: Annotated[bool, typer.Option("--watch", help="Redraw the view live until interrupted (terminal only).")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show the organism's health; exit 0 only when everything expected is healthy."""
    seedcore = application(ctx)
    consoles = seedcore.consoles
    seedcore.connect(namespace=namespace)
    if watch and output == OutputFormat.json:
        raise BadInput("--watch draws a live table; it cannot be combined with -o json", "drop one of them")
    if watch and not consoles.out.is_terminal:
        raise BadInput("--watch needs a terminal (stdout is not one)", "drop --watch, or run it in a terminal")
    with seedcore.work(timeout):
        organism = seedcore.organism_manager(loaded_config(ctx))
        result = _watch(seedcore, organism, timeout, agents) if watch else organism.status(timeout)
    if output == OutputFormat.json:
        print_json(result.to_dict())
    elif not watch:
        for table in status_tables(result, agents):
            consoles.out.print(table)
    message(consoles, _summary(result), None if result.healthy else "red")
    if not result.healthy:
        raise typer.Exit(EXIT_FAILED)


def _watch(seedcore: Application, organism: OrganismManager, timeout: float, agents: bool) -> OrganismStatus:
    from rich.console import Group
    from rich.live import Live
    from rich.text import Text

    result = organism.status(timeout)
    with Live(console=seedcore.consoles.out, auto_refresh=False) as live:
        try:
            while True:
                stamp = Text(f"{time.strftime('%H:%M:%S')}  {_summary(result)}  (Ctrl-C to stop)")
                live.update(Group(*status_tables(result, agents), stamp), refresh=True)
                with seedcore.paused():  # the pause between rounds is not Ray's; each round has its own deadline
                    time.sleep(WATCH_INTERVAL_S)
                result = organism.status(timeout)
        except KeyboardInterrupt:
            pass
    return result


# --- organism teardown ----------------------------------------------------------------------


def _require_yes_off_terminal(ctx: typer.Context, param: typer.CallbackParam, value: bool) -> bool:
    """Without --yes, teardown asks on a terminal; with no terminal to ask on, it refuses (exit 2)."""
    # The question goes to stderr and the answer comes from stdin: both must be the terminal.
    if not value and not ctx.resilient_parsing and not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise BadInput("refusing to tear down without confirmation: no terminal to ask on",
                       "pass --yes to confirm")
    return value


@app.command()
def teardown(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    include_singletons: Annotated[bool, typer.Option(
        "--include-singletons", help=f"Kill {SINGLETON_NAMES} too.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", callback=_require_yes_off_terminal,
                                      help="Do not ask for confirmation (required off a terminal).")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1.0, help="Seconds to confirm that every killed actor is dead (asking the actors first: a third of it, at most 5 s).")] = TEARDOWN_WAIT_S,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Kill the organism's organs and agents in the namespace (singletons only when asked)."""
    from seedcore_cli.organism.manager import raise_if_incomplete

    seedcore = application(ctx)
    seedcore.connect(namespace=namespace)
    consoles = seedcore.consoles
    with seedcore.work(timeout):
        organism = seedcore.organism_manager()
        # Asking each actor what it is gets a third of the time (at most 5 s); the kills and their
        # confirmation get a fresh --timeout of their own.
        items = organism.plan_teardown(include_singletons=include_singletons, timeout=min(5.0, timeout / 3))
        with seedcore.paused():  # a person answering is not Ray's to time
            if items and not yes:
                _confirm(consoles, organism.namespace, items)
        _show_teardown(consoles, organism.namespace, organism.teardown(items, wait=timeout), output)
    raise_if_incomplete(items, timeout)


def _confirm(consoles: Consoles, namespace: str, items: list[TeardownItem]) -> None:
    """Ask on the terminal; exit 1, having killed nothing, unless the operator says yes."""
    message(consoles, f"In namespace {namespace}: " + ", ".join(item.name for item in items))
    if not typer.confirm(f"Kill these {len(items)} actor(s)?", default=False, err=True):
        message(consoles, "Nothing was killed.")
        raise typer.Exit(EXIT_FAILED)


def _show_teardown(consoles: Consoles, namespace: str, items: list[TeardownItem], output: OutputFormat) -> None:
    killed = sum(item.killed for item in items)
    if output == OutputFormat.json:
        print_json({"namespace": namespace, "killed": killed, "actors": [item.to_dict() for item in items]})
    elif items:
        consoles.out.print(build_table(["name", "kind", "class", "action", "verified"],
                                       [(i.name, i.kind, i.class_name, i.action, i.verified) for i in items]))
    message(consoles, f"Killed {killed} actor(s) in namespace {namespace}." if items else
                      f"Nothing to tear down in namespace {namespace}.")
