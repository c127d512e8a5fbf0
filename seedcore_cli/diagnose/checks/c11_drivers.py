"""11. drivers: who else is connected (sessions.list_sessions): live drivers and Ray Client
sessions per namespace; a warning for a SeedCore service (its entrypoint mentions seedcore) in
another or an anonymous namespace, and for anonymous namespaces that hold detached actors."""

from __future__ import annotations

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, fail, ok, warn
from seedcore_cli.diagnose.registry import check
from seedcore_cli.errors import DashboardUnavailable, SeedcoreError

ID = "drivers"


@check(ID, "Drivers", needs=("connection",))
def drivers(ctx: Context) -> CheckResult:
    from seedcore_cli.ray_boundary import drivers as sessions

    conn = ctx.live_connection
    try:
        found = sessions.list_sessions(conn, timeout=ctx.timeout)
    except DashboardUnavailable as err:  # no State API: nothing to say about other drivers
        return warn(ID, f"cannot list the cluster's drivers: {err.message}", err.hint)
    except SeedcoreError as err:
        return fail(ID, f"could not list the cluster's drivers: {err.message}", err.hint)
    counts, warnings, notes = sessions.summarise(found, conn.namespace)
    seen = f"live drivers and sessions per namespace: {counts}"
    details = tuple((f"{s.kind} {s.job_id}", f"{s.namespace}, pid {s.pid}, {s.entrypoint[:100]}")
                    for s in found.sessions if s.alive)
    if notes:
        seen += "; " + "; ".join(notes)
    if warnings:
        return warn(ID, f"{seen}; " + "; ".join(warnings),
                    f"run SeedCore services in namespace {conn.namespace!r} (SEEDCORE_NS), each with a named "
                    "namespace; `seedcore lint` finds the ray.init calls that pick another one", details=details)
    return ok(ID, seen, details=details)
