"""7. namespace: the runtime namespace equals the configured one; SeedCore's actors found in
another namespace, or in an anonymous (UUID-looking) one, named with the namespace to use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from seedcore_cli.diagnose import bounded
from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, fail, ok, skip
from seedcore_cli.diagnose.registry import check
from seedcore_cli.errors import SeedcoreError, first_of
from seedcore_cli.organism import inventory
from seedcore_cli.organism.names import SEEDCORE_NAMES
from seedcore_cli.ray_boundary import auth
from seedcore_cli.ray_boundary.auth import Token
from seedcore_cli.ray_boundary.state_api import API_SERVER_ENV
from seedcore_cli.settings import is_anonymous_namespace

ID = "namespace"
is_anonymous = is_anonymous_namespace


@dataclass(frozen=True)
class _Dashboard:
    """What inventory needs from a connection when the process's Ray connection is not seedcore's."""

    dashboard_url: str
    namespace: str
    api_server_address: str = ""
    token: Token | None = None


def deployment_names(ctx: Context) -> tuple[str, ...]:
    """SeedCore's actor names (globs), plus the organ and agent names of the organism config."""
    names = list(SEEDCORE_NAMES)
    try:
        names += [n for n in ctx.organism_config().names() if n not in names]
    except SeedcoreError:
        pass  # a bad config is reported by the organism check; the built-in globs still apply
    return tuple(names)


def misplaced(configured: str, holding: dict[str, list[str]]) -> tuple[str, list[str]] | None:
    """(namespace to use, its actors) when `configured` holds none of them but another does."""
    if holding.get(configured) or not holding:
        return None
    best = max(sorted(holding), key=lambda ns: (len(holding[ns]), not is_anonymous(ns)))
    return best, holding[best]


def _names(found: list[str]) -> str:
    return first_of(found, 4)


@check(ID, "Namespace", needs=("configuration",))
def namespace(ctx: Context) -> CheckResult:
    session = ctx.session
    if session is None:
        return skip(ID, "skipped: this process holds no Ray connection (see connection)")
    configured = ctx.resolved_settings.namespace
    runtime = session.namespace
    details = [("configured", f"{configured.value} (from {configured.source})"), ("runtime", runtime)]
    user_env = ctx.inputs.user_env
    conn = ctx.connection or _Dashboard(ctx.dashboard_url, runtime, user_env.get(API_SERVER_ENV, "").strip(),
                                        auth.token_to_send(user_env))
    searched = ""
    holding: dict[str, list[str]] = {}
    # The State API's own query timeout, plus a second for the HTTP round trip (inventory.fetch
    # would wait 5 s more than that: the check's timeout bounds it instead).
    wait = max(1.0, ctx.timeout)
    try:
        holding = bounded.call(partial(inventory.namespaces_holding, conn, deployment_names(ctx), timeout=wait),
                               timeout=wait + 1)
    except SeedcoreError as err:
        searched = f"; other namespaces not searched ({err.message})"
    except bounded.TimedOut as err:
        searched = f"; other namespaces not searched (the State API gave {err})"
    details += [(f"actors in {ns}", _names(found)) for ns, found in holding.items()]

    if runtime != configured.value:
        why = "an anonymous namespace (a ray.init call without namespace=)" if is_anonymous(runtime) else repr(runtime)
        return fail(ID, f"this process's Ray runtime namespace is {why}, but the configured namespace is "
                        f"{configured.value!r} (from {configured.source}): named actors are looked up in the "
                        f"wrong namespace{searched}",
                    f"pass namespace={configured.value!r} to the ray.init that made this connection, or let "
                    "seedcore's connect() make it", details=tuple(details))
    moved = misplaced(configured.value, holding)
    if moved:
        other, found = moved
        if is_anonymous(other):
            where = (f"only in the anonymous namespace {other} (made by a ray.init call without namespace=; "
                     "no other job can find them by name)")
            hint = (f"create them in a named namespace: `SEEDCORE_NS={configured.value} seedcore bootstrap`, "
                    "and give every SeedCore service's ray.init a namespace")
        else:
            where = f"in namespace {other!r}"
            hint = f"use namespace {other!r} (SEEDCORE_NS={other}), or bootstrap namespace {configured.value!r}"
        return fail(ID, f"namespace {configured.value!r} (from {configured.source}) holds none of SeedCore's "
                        f"actors; {_names(found)} live {where}", hint, details=tuple(details))
    here = holding.get(configured.value, [])
    others = [ns for ns in holding if ns != configured.value]
    seen = (f"runtime namespace {runtime!r} = configured (from {configured.source}); "
            f"{len(here)} SeedCore actor name(s) here")
    if others:
        seen += f"; also in namespace(s) {', '.join(others)}"
    return ok(ID, seen + searched, details=tuple(details))
