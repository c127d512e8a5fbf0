"""Ray-facing helpers shared by `singletons` and the organism: look-ups, probes, nodes (get-or-create
is `creation`, built on these).

Works the same in driver and Ray Client (ray://) mode: it uses only `ray.get_actor`, actor
calls, `ray.wait`, `ray.nodes()` and `ray.util.list_named_actors`, plus the dashboard's State
REST API over plain HTTP (never `ray.util.state`, which calls ray.init again under Ray Client).

- `probe(instance)`: run inside any actor through `__ray_call__`; reports its class, node, id
  and seedcore's marker (`base`, re-exported here with the specs, reports and constants).
- `actor_class(info, handle, row)`: the one place a class is resolved: the actor's own answer,
  else its handle's descriptor (driver mode), else the State API row.
- `is_seedcore_actor(info, handle)`: whether the actor is one of seedcore's classes; `handle_actor_id()`.
- `wait_all(refs, timeout)`: every call bounded by one deadline; a dead or hung actor never holds
  the caller past it.
- `node_index()` / `NodeInfo`: node id -> IP, head flag, resource totals, from `ray.nodes()`;
  `cluster_offer(nodes)`: what the cluster offers (capacity.Offer), the one place that reads
  Ray's resource accounts.
- `state_actors(connection, namespace, timeout)`: the namespace's actors (DEAD ones too) as
  `inventory.ActorRow`s, through inventory's State API client (RAY_API_SERVER_ADDRESS, the
  bearer token), or None when the dashboard does not answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ray

from seedcore_cli.errors import CannotConnect, OperationFailed, fold, traceback_tail
from seedcore_cli.organism import capacity, inventory
from seedcore_cli.organism.base import (  # noqa: F401 - re-exported: actorutil is the one import
    ACTION_CONFLICT,
    ACTION_CREATED,
    ACTION_EXISTS,
    ACTION_REPAIRED,
    ACTION_WOULD_CREATE,
    ACTION_WOULD_REPAIR,
    CREATE_TIMEOUT_S,
    KIND_AGENT,
    KIND_ORGAN,
    KIND_SINGLETON,
    STATE_ALIVE,
    STATE_DEAD,
    STATE_NONE,
    STATE_UNRESPONSIVE,
    ActorReport,
    ActorSpec,
    NodeInfo,
    SeedcoreActor,
    is_seedcore,
    probe,
    probe_status,
)
from seedcore_cli.ray_boundary import ray_compat, state_api

if TYPE_CHECKING:
    from seedcore_cli.ray_boundary.connection import Connection

Progress = Callable[[int, int], None]


def remote_class(cls: type):
    """`ray.remote(cls)`, built when needed (nothing Ray-bound exists at import time).

    The class travels by value (connect() registered seedcore_cli with Ray's pickler), so the
    cluster needs nothing of seedcore installed."""
    return ray.remote(cls)


def lookup(name: str, namespace: str):
    """The live actor holding `name` in `namespace`, or None."""
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        return None


def named_actors(namespace: str) -> set[str]:
    """Names of the live named actors in `namespace` (any namespace, not only the job's)."""
    return {entry["name"] for entry in ray.util.list_named_actors(all_namespaces=True)
            if entry.get("namespace") == namespace}


def descriptor_class(handle: Any) -> str | None:
    """The class name a driver-mode handle carries (Ray Client handles do not: None)."""
    created_from = ray_compat.handle_class(handle)
    return (created_from[1] or None) if created_from else None


def actor_class(info: dict | None, handle: Any = None, row: inventory.ActorRow | None = None) -> str | None:
    """The class of an actor: what its probe answered, else what its handle carries (driver
    mode), else what the State API row says; None when nothing tells."""
    return ((info or {}).get("class") or (descriptor_class(handle) if handle is not None else None)
            or (row.class_name if row is not None else None) or None)


def is_seedcore_actor(info: dict | None, handle: Any = None) -> bool:
    """Whether the actor is one of seedcore's classes (SeedcoreActor): its probe shows the marker,
    or, when it did not answer, its driver-mode handle names a seedcore_cli module."""
    if info:
        return is_seedcore(info)
    created_from = ray_compat.handle_class(handle) if handle is not None else None
    module = created_from[0] if created_from else ""
    return module == "seedcore_cli" or module.startswith("seedcore_cli.")


def handle_actor_id(handle: Any) -> str:
    """The actor id a handle points at, without calling the actor (driver and Ray Client).
    Raises ray_compat.ApiChanged rather than answer '' (teardown must never skip silently)."""
    return ray_compat.handle_actor_id(handle)


@dataclass
class WaitResult:
    """What wait_all() found: results by key, errors by key, keys still pending at the deadline."""

    results: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    pending: set = field(default_factory=set)


def wait_all(refs: dict[Hashable, Any], timeout: float, progress: Progress | None = None) -> WaitResult:
    """Wait for every ref until one deadline; never blocks longer than `timeout`."""
    waited = WaitResult()
    if not refs:
        return waited
    key_of = {ref: key for key, ref in refs.items()}
    deadline = time.monotonic() + max(0.0, timeout)
    pending = list(refs.values())
    done = 0
    while pending:
        remaining = max(0.0, deadline - time.monotonic())
        batch = 1 if progress else len(pending)
        ready, pending = ray.wait(pending, num_returns=batch, timeout=remaining)
        for ref in ready:
            key = key_of[ref]
            try:
                waited.results[key] = ray.get(ref, timeout=max(1.0, remaining))
            except Exception as err:
                waited.errors[key] = err
        done += len(ready)
        if progress and ready:
            progress(done, len(refs))
        if not ready or time.monotonic() >= deadline:
            break
    waited.pending = {key_of[ref] for ref in pending}
    return waited


def is_actor_died(err: BaseException) -> bool:
    """The actor is gone for good; not one Ray is restarting (ActorUnavailableError, a subclass)."""
    return isinstance(err, ray.exceptions.RayActorError) and not is_actor_restarting(err)


def is_actor_restarting(err: BaseException) -> bool:
    """Ray answers a call to an actor it is restarting (its node lost, say) with this error."""
    return isinstance(err, ray.exceptions.ActorUnavailableError)


def short_error(err: BaseException) -> str:
    """One clean line for an actor call's error: for a remote traceback its last meaningful line
    (the exception raised in the actor), no colour codes, no object reprs."""
    text = str(err).strip()
    line = traceback_tail(text) if "Traceback (most recent call last)" in text else (text.splitlines() or [""])[0]
    return fold(f"{type(err).__name__}: {line}" if line else type(err).__name__, 240)


# --- nodes -----------------------------------------------------------------------------------


def node_index() -> dict[str, NodeInfo]:
    """node id -> NodeInfo for every node the GCS knows (works under Ray Client too)."""
    index: dict[str, NodeInfo] = {}
    for node in ray.nodes():
        node_id = node.get("NodeID", "")
        resources = dict(node.get("Resources") or {})
        index[node_id] = NodeInfo(
            node_id=node_id,
            ip=node.get("NodeManagerAddress", ""),
            alive=bool(node.get("Alive")),
            is_head=ray_compat.HEAD_NODE_RESOURCE in resources,
            resources=resources,
        )
    return index


def cluster_offer(nodes: dict[str, NodeInfo] | None = None) -> capacity.Offer:
    """What the cluster offers, from Ray's own accounts (driver and Ray Client alike): each alive
    node's totals, their sum, and what is free now (`ray.available_resources()`)."""
    alive = tuple(dict(info.resources) for info in (node_index() if nodes is None else nodes).values() if info.alive)
    total: dict[str, float] = {}
    for resources in alive:
        for name, amount in resources.items():
            total[name] = total.get(name, 0) + amount
    return capacity.Offer(total=total, available=ray.available_resources(), nodes=alive)


def node_ip(node_id: str, nodes: dict[str, NodeInfo]) -> str:
    info = nodes.get(node_id or "")
    return info.ip if info else ""


def node_label(node_id: str, nodes: dict[str, NodeInfo]) -> str:
    if not node_id:
        return ""
    info = nodes.get(node_id)
    return info.label if info else node_id[:8]


# --- the State REST API ----------------------------------------------------------------------


def state_actors(connection: Connection, namespace: str, timeout: float) -> list[inventory.ActorRow] | None:
    """The namespace's actors from the State API, DEAD ones included, as `inventory.ActorRow`s.

    inventory's client (RAY_API_SERVER_ADDRESS, the bearer token), so it works in every
    connection mode; None when there is no dashboard or it cannot be reached within `timeout`
    (callers fall back to what the actors and the GCS say). An answer in a shape seedcore does
    not know raises OperationFailed: a changed payload must not look like "no State API".
    """
    url, source = state_api.dashboard_url_for(connection)
    if not url:
        return None
    try:
        result = state_api.fetch_actors(url, [("ray_namespace", "=", namespace)], limit=inventory.MAX_LIMIT,
                                 detail=True, timeout=timeout, source=source, token=connection.token,
                                 http_timeout=max(0.2, timeout))
    except CannotConnect:  # no dashboard, unreachable, refused: the callers' fallback
        return None
    entries = result.get("result") if isinstance(result, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise OperationFailed(f"the State API at {url} (from {source}) answered /api/v0/actors in an unknown "
                              f"shape ({fold(repr(result), 80)})",
                              "use a Ray version this seedcore supports (pyproject's range)")
    return inventory.rows_from_api(entries, detail=True)

