"""8. singletons: miss_tracker, shared_cache, mw each exist once, ALIVE, detached, of the expected
class, answering ping within the timeout; missing ones point to `seedcore bootstrap`."""

from __future__ import annotations

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, fail, ok
from seedcore_cli.diagnose.registry import check

ID = "singletons"


def _line(h) -> str:
    if not h.healthy:
        return h.problem
    where = f" on {h.node_ip}" if h.node_ip else ""
    detached = "detached" if h.detached else "detached: unknown (no State API)"
    ping = f", ping {h.ping_ms:g} ms" if h.ping_ms is not None else ""
    return f"{h.class_name} ALIVE, {detached}{ping}{where}"


def hint_for(problems: list, namespace: str) -> str:
    """One hint covering every kind of problem found (missing, wrong class, silent, not detached)."""
    hints = []
    if any(not h.exists for h in problems):
        hints.append(f"create the missing ones: `seedcore --namespace {namespace} bootstrap`")
    if any(h.exists and h.class_name and not h.class_ok for h in problems):
        hints.append("a name is held by an actor of another class: remove that actor (ray.kill) if it is not "
                     "needed, or use another namespace; bootstrap never replaces it")
    if any(h.exists and (not h.class_name or h.class_ok) and not h.ping_ok for h in problems):
        hints.append("an actor does not answer ping: see its worker log (dashboard), kill it and bootstrap again")
    if any(h.exists and h.ping_ok and h.class_ok and h.detached is False for h in problems):
        hints.append("a non-detached singleton dies with its job: kill it and bootstrap again")
    return "; ".join(hints)


@check(ID, "Singletons", needs=("connection",))
def singletons(ctx: Context) -> CheckResult:
    from seedcore_cli import singletons as singletons_mod

    conn = ctx.connection
    health = singletons_mod.inspect(conn, timeout=ctx.timeout)
    details = tuple((h.name, _line(h)) for h in health)
    bad = [h for h in health if not h.healthy]
    if bad:
        return fail(ID, f"in namespace {conn.namespace!r}: " + "; ".join(f"{h.name} {h.problem}" for h in bad),
                    hint_for(bad, conn.namespace), details=details)
    ms = max((h.ping_ms or 0.0) for h in health)
    detached = "detached" if all(h.detached for h in health) else "detached unknown (no State API)"
    return ok(ID, f"{', '.join(h.name for h in health)}: ALIVE, expected class, {detached}, ping {ms:g} ms "
                  f"(namespace {conn.namespace!r})", details=details)
