"""Actor listing: every actor of the deployment, the same rows as `ray list actors`, safe in every
connection mode (the State API through `state_api`, never `ray.util.state`). No ray, no Typer or
Rich; plain dataclasses.

Invariants: filters the State API can apply (namespace, state, class, a name without glob
characters) run on the server, and every row is checked again here (the server compares
case-insensitively); rows are sorted by namespace, name, actor id *before* they are cut to the
limit, and the listing's total counts every match. The dashboard's address and the token are
the Connection's (what connect() settled). The row building and selection are pure (the
benchmark times them). Errors: those of `state_api` (exit 3 / 1), and `BadInput` (exit 2) for
bad filters.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from seedcore_cli.errors import BadInput, first_of
from seedcore_cli.organism.model import RayActorState
from seedcore_cli.ray_boundary import state_api

if TYPE_CHECKING:  # the connection module imports ray lazily; we only read its fields
    from seedcore_cli.ray_boundary.connection import Connection

# Ray's actor states (ray.util.state.common.ActorState.state), in lifecycle order.
ACTOR_STATES = tuple(RayActorState)
DEFAULT_LIMIT = 100
# The State API refuses a larger limit (RAY_MAX_LIMIT_FROM_API_SERVER, default 10,000).
MAX_LIMIT = state_api.MAX_LIMIT
DEFAULT_TIMEOUT_S = state_api.DEFAULT_TIMEOUT_S

CURRENT = "<current>"  # list_actors(namespace=CURRENT): the connection's namespace
_GLOB_CHARS = frozenset("*?[")


# ---------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class ActorRow:
    """One actor as the State API reports it. Detail fields are None unless asked for."""

    name: str  # '' for an unnamed actor
    class_name: str
    state: str
    namespace: str
    node_id: str
    pid: int
    actor_id: str
    job_id: str
    # detail only
    num_restarts: int | None = None
    death_cause: str | None = None  # one line: why it died (None when alive or not detailed)
    death_reason: str | None = None  # Ray's reason code, e.g. RAY_KILL, or the context kind
    is_detached: bool | None = None
    required_resources: dict[str, float] | None = None
    placement_group_id: str | None = None
    repr_name: str | None = None
    # Ray's death_cause dict as the State API gives it, minus the pickled exception
    death_cause_detail: dict[str, Any] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Every field, always the same keys (JSON output)."""
        return {
            "name": self.name,
            "class_name": self.class_name,
            "state": self.state,
            "namespace": self.namespace,
            "node_id": self.node_id,
            "pid": self.pid,
            "actor_id": self.actor_id,
            "job_id": self.job_id,
            "num_restarts": self.num_restarts,
            "death_cause": self.death_cause,
            "death_reason": self.death_reason,
            "is_detached": self.is_detached,
            "required_resources": self.required_resources,
            "placement_group_id": self.placement_group_id,
            "repr_name": self.repr_name,
            "death_cause_detail": self.death_cause_detail,
        }


@dataclass(frozen=True)
class ActorQuery:
    """What to list. namespace None = all namespaces. Validated by `make_query`."""

    namespace: str | None = None
    states: tuple[str, ...] = ()
    class_name: str | None = None
    name_globs: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT
    detail: bool = False


@dataclass(frozen=True)
class ActorListing:
    """The rows (sorted, at most `limit`) and how many matched in all."""

    rows: list[ActorRow]
    total: int  # rows matching every filter, before the limit
    query: ActorQuery
    dashboard_url: str
    total_exact: bool = True  # False when the cluster holds more than the State API returns
    warnings: tuple[str, ...] = ()  # partial failures, truncation at the source

    @property
    def cut(self) -> bool:
        return len(self.rows) < self.total

    def shown_of(self) -> str | None:
        """'showing N of M actors' when the limit cut the list, else None (the CLI adds how to see more)."""
        if not self.cut:
            return None
        of = f"{self.total}" if self.total_exact else f"at least {self.total}"
        return f"showing {len(self.rows)} of {of} actors"


@dataclass(frozen=True)
class NamespaceHint:
    """Where the actors sought are, when the namespace asked for shows none."""

    text: str  # "no matching actors in namespace 'a', but namespace 'b' holds x, y"
    namespace: str  # the first namespace that holds them


# ---------------------------------------------------------------------------------------------
# Pure helpers: parsing, filtering, sorting (no network)


def make_query(
    namespace: str | None,
    states: Iterable[str] = (),
    class_name: str | None = None,
    name_globs: Iterable[str] = (),
    limit: int = DEFAULT_LIMIT,
    detail: bool = False,
) -> ActorQuery:
    """Validate and normalise the filters; raise BadInput (exit 2) for bad ones."""
    normalised = []
    for state in states:
        upper = str(state).strip().upper()
        if upper not in ACTOR_STATES:
            raise BadInput(f"unknown actor state {state!r}", f"use one of {', '.join(ACTOR_STATES)}")
        if upper not in normalised:
            normalised.append(upper)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"limit {limit!r} is out of range", f"use a number between 1 and {MAX_LIMIT}")
    globs = tuple(dict.fromkeys(g for g in name_globs))
    if any(not g for g in globs):
        raise BadInput("an empty name pattern matches nothing", "give a name or a glob such as '*_organ_*'")
    if class_name is not None and not class_name:
        raise BadInput("an empty class name matches nothing", "give a class name such as Organ")
    if namespace is not None and not namespace:
        raise BadInput("an empty namespace", "give a namespace, or list all namespaces")
    return ActorQuery(namespace=namespace, states=tuple(normalised), class_name=class_name,
                      name_globs=globs, limit=limit, detail=detail)


def server_filters(query: ActorQuery) -> list[tuple[str, str, str]]:
    """The (key, predicate, value) filters the State API applies for `query`."""
    filters: list[tuple[str, str, str]] = []
    if query.namespace is not None:
        filters.append(("ray_namespace", "=", query.namespace))
    if len(query.states) == 1:
        filters.append(("state", "=", query.states[0]))
    elif query.states:  # several states: exclude the others (filters are ANDed)
        filters.extend(("state", "!=", s) for s in ACTOR_STATES if s not in query.states)
    if query.class_name is not None:
        filters.append(("class_name", "=", query.class_name))
    if len(query.name_globs) == 1 and not _GLOB_CHARS & set(query.name_globs[0]):
        filters.append(("name", "=", query.name_globs[0]))
    return filters


def _death(cause: Any) -> tuple[str | None, str | None]:
    """(one-line cause, reason code) from the State API's death_cause dict."""
    if not isinstance(cause, dict) or not cause:
        return None, None
    kind, context = next(iter(cause.items()))
    if not isinstance(context, dict):
        return str(context), kind
    text = context.get("error_message") or ""
    trace = context.get("formatted_exception_string") or context.get("formatted_exception")
    if not text and trace:
        # A creation task's traceback: its last line names the exception.
        lines = [line.strip() for line in str(trace).splitlines() if line.strip()]
        text = lines[-1] if lines else ""
    text = " ".join(str(text).split())  # one line
    reason = context.get("reason") or kind
    return text or str(reason), str(reason)


def row_from_api(entry: Mapping[str, Any], detail: bool = True) -> ActorRow:
    """One State API actor entry (a dict from /api/v0/actors) as an ActorRow."""
    base: dict[str, Any] = dict(
        name=entry.get("name") or "",
        class_name=entry.get("class_name") or "",
        state=entry.get("state") or "",
        namespace=entry.get("ray_namespace") or "",
        node_id=entry.get("node_id") or "",
        pid=state_api.as_int(entry.get("pid")),
        actor_id=entry.get("actor_id") or "",
        job_id=entry.get("job_id") or "",
    )
    if not detail:
        return ActorRow(**base)
    cause, reason = _death(entry.get("death_cause"))
    resources = entry.get("required_resources")
    return ActorRow(
        **base,
        num_restarts=state_api.as_int(entry.get("num_restarts")),
        death_cause=cause,
        death_reason=reason,
        is_detached=bool(entry.get("is_detached")),
        required_resources=dict(resources) if isinstance(resources, dict) else {},
        placement_group_id=entry.get("placement_group_id") or None,
        repr_name=entry.get("repr_name") or "",
        death_cause_detail=_readable(entry.get("death_cause")),
    )


def _readable(cause: Any) -> dict[str, Any] | None:
    """Ray's death_cause without `serialized_exception` (a base64 pickle; the text is kept)."""
    if not isinstance(cause, dict) or not cause:
        return None
    return {kind: ({k: v for k, v in context.items() if k != "serialized_exception"}
                   if isinstance(context, dict) else context)
            for kind, context in cause.items()}


def rows_from_api(entries: Iterable[Mapping[str, Any]], detail: bool = True) -> list[ActorRow]:
    return [row_from_api(entry, detail) for entry in entries]


def sort_key(row: ActorRow) -> tuple[str, str, str]:
    return (row.namespace, row.name, row.actor_id)


def matches(row: ActorRow, query: ActorQuery) -> bool:
    """Exact (case-sensitive) check of every filter in `query`."""
    if query.namespace is not None and row.namespace != query.namespace:
        return False
    if query.states and row.state not in query.states:
        return False
    if query.class_name is not None and row.class_name != query.class_name:
        return False
    return not query.name_globs or any(fnmatch.fnmatchcase(row.name, g) for g in query.name_globs)


def select(rows: Iterable[ActorRow], query: ActorQuery) -> tuple[list[ActorRow], int]:
    """Filter, sort by (namespace, name, actor id) and cut to the limit: (rows, number matched)."""
    kept = sorted((row for row in rows if matches(row, query)), key=sort_key)
    return kept[: query.limit], len(kept)


# ---------------------------------------------------------------------------------------------
# The API


def list_query(connection: Connection, query: ActorQuery, *, timeout: float = DEFAULT_TIMEOUT_S) -> ActorListing:
    """List the actors `query` selects (see module docstring)."""
    url, source = state_api.dashboard_url_for(connection)
    if not url:
        raise state_api.no_dashboard()
    # Fetch every match the server will return, then sort and cut here: the server orders by
    # actor id, so its own limit would keep an arbitrary subset, not the first N by name.
    # The HTTP round trip gets a second more than the server's own query (the command's deadline
    # is its timeout + 5 s).
    result = state_api.fetch_actors(url, server_filters(query), limit=MAX_LIMIT, detail=query.detail,
                                     timeout=timeout, source=source, token=connection.token, http_timeout=timeout + 1)
    rows, total = select(rows_from_api(result["result"], query.detail), query)
    warnings = []
    if result.get("partial_failure_warning"):
        warnings.append(str(result["partial_failure_warning"]).strip())
    warnings.extend(str(w) for w in (result.get("warnings") or []))
    exact = True
    num_filtered = state_api.as_int(result.get("num_filtered"))
    if num_filtered > len(result["result"]):  # more matches than one answer may carry
        exact = False
        total = max(total, num_filtered) if not query.name_globs else total
    if state_api.as_int(result.get("total")) > state_api.as_int(result.get("num_after_truncation")):
        exact = False
        warnings.append(
            f"the cluster holds {state_api.as_int(result.get('total'))} actors but the State API read only "
            f"{state_api.as_int(result.get('num_after_truncation'))}; the list may be incomplete"
        )
    return ActorListing(rows=rows, total=total, query=query, dashboard_url=url,
                        total_exact=exact, warnings=tuple(warnings))


def list_actors(
    connection: Connection,
    *,
    namespace: str | None = CURRENT,
    states: Iterable[str] = (),
    class_name: str | None = None,
    name_globs: Iterable[str] = (),
    limit: int = DEFAULT_LIMIT,
    detail: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> ActorListing:
    """List actors through the dashboard's State API; namespace CURRENT, a name, or None (all)."""
    if namespace == CURRENT:
        namespace = connection.namespace
    query = make_query(namespace, states, class_name, name_globs, limit, detail)
    return list_query(connection, query, timeout=timeout)


def namespaces_holding(
    connection: state_api.DashboardWithToken,
    names: Iterable[str] | None = None,
    *,
    exclude: Iterable[str] = (),
    include_dead: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, list[str]]:
    """{namespace: sorted actor names} for actors whose name matches one of `names` (globs; None:
    SeedCore's, the organism config's names included).

    Only live actors (not DEAD) unless include_dead; namespaces in `exclude` are left out.
    """
    globs = tuple(names) if names is not None else _seedcore_names()
    url, source = state_api.dashboard_url_for(connection)
    if not url:
        raise state_api.no_dashboard()
    filters = [] if include_dead else [("state", "!=", RayActorState.DEAD.value)]
    result = state_api.fetch_actors(url, filters, limit=MAX_LIMIT, detail=False, timeout=timeout, source=source,
                                    token=connection.token)
    skip = set(exclude)
    found: dict[str, set[str]] = {}
    for row in rows_from_api(result["result"], detail=False):
        if row.name and row.namespace not in skip and any(fnmatch.fnmatchcase(row.name, g) for g in globs):
            found.setdefault(row.namespace, set()).add(row.name)
    return {ns: sorted(found[ns]) for ns in sorted(found)}


def _seedcore_names() -> tuple[str, ...]:
    from seedcore_cli.organism.config import seedcore_names  # reads the config only when asked

    return seedcore_names()


def namespace_hint(connection: Connection, namespace: str, names: Sequence[str] = (), *,
                   timeout: float = DEFAULT_TIMEOUT_S) -> NamespaceHint | None:
    """The hint when `namespace` shows nothing but another namespace holds the actors sought.

    names: the name globs asked for, or () for SeedCore's own names.
    """
    wanted = tuple(names) or _seedcore_names()
    holding = namespaces_holding(connection, wanted, exclude=[namespace], timeout=timeout)
    if not holding:
        return None

    def listed(found: list[str]) -> str:
        return first_of(found, 3)

    first = next(iter(holding))
    if len(holding) == 1:
        where = f"namespace {first!r} holds {listed(holding[first])}"
    else:
        where = "namespaces " + "; ".join(f"{ns!r} ({listed(found)})" for ns, found in holding.items()) + " hold such actors"
    return NamespaceHint(f"no matching actors in namespace {namespace!r}, but {where}", first)
