"""9. organism: organs and agents as in `organism status`, summarised (singletons: check 8)."""

from __future__ import annotations

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, fail, ok
from seedcore_cli.diagnose.registry import check
from seedcore_cli.errors import ConfigError, first_of
from seedcore_cli.organism.model import Health

ID = "organism"


def summarise(status) -> tuple[bool, str, list]:
    """(healthy, one-line summary, Problems) for the organs and agents of an OrganismStatus."""
    organs = status.expected_organs
    agents = [agent for organ in organs for agent in organ.agents]
    healthy_organs = sum(1 for organ in organs if organ.healthy)
    healthy_agents = sum(1 for agent in agents if agent.healthy)
    line = (f"{healthy_organs}/{len(organs)} organs healthy, {healthy_agents}/{len(agents)} agents healthy "
            f"(config: {status.config_source})")
    extra = [organ.organ_id for organ in status.organs if organ.extra]
    if extra:
        line += f"; organs not in the config: {', '.join(extra)}"
    problems = [p for p in status.problems() if p.kind != "singleton"]  # check 8 judges those
    return healthy_organs == len(organs) and healthy_agents == len(agents), line, problems


def describe(problem) -> str:
    return f"{problem.kind} {problem.name}: {problem.state}" + (f" ({problem.detail})" if problem.detail else "")


@check(ID, "Organism", needs=("connection",))
def organism(ctx: Context) -> CheckResult:
    from seedcore_cli.organism import status as organism_status

    conn = ctx.live_connection
    try:
        config = ctx.organism_config()
    except ConfigError as err:
        return fail(ID, f"the organism config is invalid: {err.message}", err.hint)
    status = organism_status.collect(conn, config, timeout=ctx.timeout)
    healthy, line, problems = summarise(status)
    details = tuple((organ.organ_id, f"{organ.state}, {organ.agents_alive}/{organ.agents_expected} agents")
                    for organ in status.organs)
    if healthy:
        return ok(ID, f"{line} in namespace {conn.namespace!r}", details=details)
    states = {organ.state for organ in status.expected_organs}
    if states == {"missing"}:
        return fail(ID, f"no organism in namespace {conn.namespace!r}: {line}",
                    f"create it: `SEEDCORE_NS={conn.namespace} seedcore bootstrap`", details=details)
    shown = first_of([describe(p) for p in problems], 5, "; ")
    hint = "re-run `seedcore bootstrap` to recreate missing or dead actors (it keeps the healthy ones)"
    found = {p.state for p in problems}
    if Health.PENDING in found:
        hint = ("Ray cannot place some actors (the reason is shown): add capacity or ask for less in the organism "
                "config; " + hint)
    if Health.RESTARTING in found:
        hint = "Ray is restarting some actors (a lost node, a crash): check again in a moment; " + hint
    if Health.CONFLICT in found:
        hint = ("a name is held by an actor of another class: remove it if it is not needed, or use another "
                "namespace; " + hint)
    return fail(ID, f"{line}: {shown}", hint, details=details)
