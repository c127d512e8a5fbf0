"""8. singletons: miss_tracker, shared_cache, mw each exist once, ALIVE, detached, of the expected
class, answering within the timeout (the health model `organism status` uses); missing ones point
to `seedcore bootstrap`."""

from __future__ import annotations

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, fail, ok
from seedcore_cli.diagnose.registry import check
from seedcore_cli.organism.model import Health

ID = "singletons"


def _line(item) -> str:
    if not item.healthy:
        return f"{item.state}" + (f" ({item.error})" if item.error else "")
    where = f" on {item.node_ip}" if item.node_ip else ""
    detached = "detached" if item.detached else "detached: unknown (no State API)"
    ping = f", ping {item.ping_ms:g} ms" if item.ping_ms is not None else ""
    return f"{item.class_name} ALIVE, {detached}{ping}{where}"


def hint_for(problems: list, namespace: str) -> str:
    """One hint covering every kind of problem found (missing, wrong class, silent, not detached)."""
    states = {item.state for item in problems}
    hints = []
    if states & {Health.MISSING, Health.DEAD}:
        hints.append(f"create the missing ones: `SEEDCORE_NS={namespace} seedcore bootstrap`")
    if Health.CONFLICT in states:
        hints.append("a name is held by an actor of another class: remove that actor (ray.kill) if it is not "
                     "needed, or use another namespace; bootstrap never replaces it")
    if Health.UNRESPONSIVE in states:
        hints.append("an actor does not answer: see its worker log (dashboard), kill it and bootstrap again")
    if Health.PENDING in states:
        hints.append("Ray cannot place an actor (the reason is shown): add capacity, or ask for less in the "
                     "organism config's defaults.singleton")
    if Health.RESTARTING in states:
        hints.append("Ray is restarting an actor (its node was lost or its process died): check again in a moment")
    if Health.NOT_DETACHED in states:
        hints.append("a non-detached singleton dies with its job: kill it and bootstrap again")
    return "; ".join(hints)


@check(ID, "Singletons", needs=("connection",))
def singletons(ctx: Context) -> CheckResult:
    from seedcore_cli.organism import status

    conn = ctx.live_connection
    found = status.collect(conn, timeout=ctx.timeout, organs=False).singletons
    details = tuple((item.name, _line(item)) for item in found)
    bad = [item for item in found if not item.healthy]
    if bad:
        return fail(ID, f"in namespace {conn.namespace!r}: " + "; ".join(f"{item.name} {_line(item)}" for item in bad),
                    hint_for(bad, conn.namespace), details=details)
    ms = max((item.ping_ms or 0.0) for item in found)
    detached = "detached" if all(item.detached for item in found) else "detached unknown (no State API)"
    return ok(ID, f"{', '.join(item.name for item in found)}: ALIVE, expected class, {detached}, ping {ms:g} ms "
                  f"(namespace {conn.namespace!r})", details=details)
