"""5. connection: what connect() did (mode, time) or why it failed, and any Ray connection this
process already holds (a library caller's ray.init, a Ray Client, allow_multiple contexts)."""

from __future__ import annotations

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, fail, ok, skip, warn
from seedcore_cli.diagnose.registry import check
from seedcore_cli.errors import ConnectionConflict
from seedcore_cli.ray_boundary.connection import RaySession, session_in_process

ID = "connection"

CONFLICT_HINT = ("make seedcore's connect() the process's one ray.init: remove the other ray.init "
                 "(or pass it the same address and namespace=...), or call ray.shutdown() first; "
                 "never allow_multiple=True or a re-init retry ladder")


def describe(session: RaySession) -> str:
    kind = "Ray Client" if session.kind == "client" else "driver"
    return f"{kind} to {session.address} in namespace {session.namespace!r}"


# On the caller's thread, not under the runner's deadline: which Ray Client context is current
# is thread-local in Ray, and this only asks the connection the process already holds.
@check(ID, "Connection", needs=("configuration", "reachability"), bounded=False)
def connection(ctx: Context) -> CheckResult:
    session = ctx.session = session_in_process()
    conn, failure = ctx.connection, ctx.inputs.failure
    if conn is not None:
        seen = (f"connect(): {conn.mode} to {conn.resolved_address} in namespace {conn.namespace!r} "
                f"(from {conn.namespace_source}) in {conn.connect_seconds:.2f} s")
        details = tuple((k, str(v)) for k, v in conn.to_dict().items())
        if session is not None and session.client_contexts > (1 if session.kind == "client" else 0):
            return warn(ID, f"{seen}; {session.client_contexts} Ray Client contexts are open in this process",
                        "another ray.init call with allow_multiple=True made more than one client: "
                        + CONFLICT_HINT, details=details)
        return ok(ID, seen, details=details)
    if failure is None:
        return skip(ID, "connect() was not attempted")
    if session is not None and session.owner == "outside":
        configured = ctx.resolved_settings.namespace.value
        extra = (f"; {session.client_contexts} Ray Client context(s) open (allow_multiple)"
                 if session.client_contexts > (1 if session.kind == "client" else 0) else "")
        return fail(ID, f"this process already holds a Ray connection made outside seedcore: "
                        f"{describe(session)}{extra}; connect() for namespace {configured!r} would raise "
                        f"{type(failure).__name__}: {failure.message}", CONFLICT_HINT,
                    details=(("existing connection", describe(session)), ("configured namespace", configured)))
    if isinstance(failure, ConnectionConflict):
        return fail(ID, f"{type(failure).__name__}: {failure.message}", failure.hint or CONFLICT_HINT)
    hint = failure.hint if "seedcore diagnose" not in failure.hint else ""  # we are that command
    return fail(ID, f"connect() failed ({type(failure).__name__}): {failure.message}",
                hint or "see the other checks")
