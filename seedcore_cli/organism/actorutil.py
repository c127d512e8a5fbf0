"""Ray-facing helpers shared by `singletons` and the organism: get-or-create, probes, nodes.

Works the same in driver and Ray Client (ray://) mode: it uses only `ray.get_actor`, actor
calls, `ray.wait`, `ray.nodes()` and `ray.util.list_named_actors`, plus the dashboard's State
REST API over plain HTTP (never `ray.util.state`, which calls ray.init again under Ray Client).

- `ensure(specs, namespace, ...)`: get or create detached named actors, concurrently; a name held
  by another class raises `ActorConflict` before anything is created; the create race between
  several processes is settled by Ray's `get_if_exists` and a per-call creator token tells which
  process created each actor.
- `probe(instance)`: run inside any actor through `__ray_call__`; reports its class, node, id
  and seedcore's marker (`base`, re-exported here with the specs, reports and constants).
- `actor_class(info, handle, row)`: the one place a class is resolved: the actor's own answer,
  else its handle's descriptor (driver mode), else the State API row.
- `is_seedcore_actor(info, handle)`: whether the actor is one of seedcore's classes; `handle_actor_id()`.
- `wait_all(refs, timeout)`: every call bounded by one deadline; a dead or hung actor never holds
  the caller past it.
- `node_index()` / `NodeInfo`: node id -> IP and head flag, from `ray.nodes()`.
- `state_actors(connection, namespace, timeout)`: the namespace's actors (DEAD ones too) as
  `inventory.ActorRow`s, through inventory's State API client (RAY_API_SERVER_ADDRESS, the
  bearer token), or None when the dashboard does not answer.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable

import ray

from seedcore_cli import inventory, ray_compat, state_api
from seedcore_cli.errors import ActorConflict, CannotConnect, OperationFailed, fold, traceback_tail
from seedcore_cli.organism.base import (  # noqa: F401 - re-exported: actorutil is the one import
    ACTION_CONFLICT,
    ACTION_CREATED,
    ACTION_EXISTS,
    ACTION_WOULD_CREATE,
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
    SeedcoreActor,
    is_seedcore,
    probe,
    probe_status,
)

from seedcore_cli.organism.options import spec_options

if TYPE_CHECKING:
    from seedcore_cli.connection import Connection

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


def actor_class(info: dict | None, handle: Any = None, row: "inventory.ActorRow | None" = None) -> str | None:
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
            except Exception as err:  # noqa: BLE001 - RayActorError, RayTaskError, ...: reported per key
                waited.errors[key] = err
        done += len(ready)
        if progress and ready:
            progress(done, len(refs))
        if not ready or time.monotonic() >= deadline:
            break
    waited.pending = {key_of[ref] for ref in pending}
    return waited


def is_actor_died(err: BaseException) -> bool:
    return isinstance(err, ray.exceptions.RayActorError)


def short_error(err: BaseException) -> str:
    """One clean line for an actor call's error: for a remote traceback its last meaningful line
    (the exception raised in the actor), no colour codes, no object reprs."""
    text = str(err).strip()
    line = traceback_tail(text) if "Traceback (most recent call last)" in text else (text.splitlines() or [""])[0]
    return fold(f"{type(err).__name__}: {line}" if line else type(err).__name__, 240)


# --- nodes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    ip: str
    alive: bool
    is_head: bool

    @property
    def label(self) -> str:
        return f"{self.ip} ({self.node_id[:8]}{', head' if self.is_head else ''})"


def node_index() -> dict[str, NodeInfo]:
    """node id -> NodeInfo for every node the GCS knows (works under Ray Client too)."""
    index: dict[str, NodeInfo] = {}
    for node in ray.nodes():
        node_id = node.get("NodeID", "")
        index[node_id] = NodeInfo(
            node_id=node_id,
            ip=node.get("NodeManagerAddress", ""),
            alive=bool(node.get("Alive")),
            is_head=ray_compat.HEAD_NODE_RESOURCE in (node.get("Resources") or {}),
        )
    return index


def node_ip(node_id: str, nodes: dict[str, NodeInfo]) -> str:
    info = nodes.get(node_id or "")
    return info.ip if info else ""


def node_label(node_id: str, nodes: dict[str, NodeInfo]) -> str:
    if not node_id:
        return ""
    info = nodes.get(node_id)
    return info.label if info else node_id[:8]


# --- the State REST API ----------------------------------------------------------------------


def state_actors(connection: "Connection", namespace: str, timeout: float) -> "list[inventory.ActorRow] | None":
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
                                 detail=True, timeout=timeout, source=source,
                                 http_timeout=max(0.2, timeout))
    except CannotConnect:  # no dashboard, unreachable, refused: the callers' fallback
        return None
    entries = result.get("result") if isinstance(result, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise OperationFailed(f"the State API at {url} (from {source}) answered /api/v0/actors in an unknown "
                              f"shape ({fold(repr(result), 80)})",
                              "use a Ray version this seedcore supports (pyproject's range)")
    return inventory.rows_from_api(entries, detail=True)


# --- get or create ---------------------------------------------------------------------------


@dataclass
class EnsureResult:
    """ensure()'s answer: a report per spec (in spec order) and the live handles by name."""

    reports: list[ActorReport]
    handles: dict[str, Any]


def conflict_error(conflicts: list[tuple[ActorSpec, str]], namespace: str) -> ActorConflict:
    parts = [f"actor {spec.name!r} in namespace {namespace!r} is a {found}, expected {spec.class_name}"
             for spec, found in conflicts]
    return ActorConflict(
        "; ".join(parts) + "; nothing was killed or replaced",
        "use another namespace, or remove that actor yourself if it is not needed",
    )


def ensure(specs: Iterable[ActorSpec], namespace: str, *, dry_run: bool = False,
           timeout: float = CREATE_TIMEOUT_S, progress: Progress | None = None) -> EnsureResult:
    """Get or create each spec'd actor (detached, with its spec's options) in `namespace`, concurrently.

    Raises ActorConflict, before creating anything, when a name is held by another class (and
    after creating, if another process won a race with another class). Actors that do not answer
    within `timeout` are reported with state UNRESPONSIVE (or DEAD); the caller decides.
    """
    specs = list(specs)
    deadline = time.monotonic() + timeout
    nodes = node_index()
    handles = {spec.name: lookup(spec.name, namespace) for spec in specs}
    reports: dict[str, ActorReport] = {}
    conflicts: list[tuple[ActorSpec, str]] = []

    # 1. What already holds each name, and is it what we expect?
    existing = [spec for spec in specs if handles[spec.name] is not None]
    waited = wait_all({spec.name: handles[spec.name].__ray_call__.remote(probe) for spec in existing},
                      deadline - time.monotonic())
    missing = [spec for spec in specs if handles[spec.name] is None]
    for spec in existing:
        info = waited.results.get(spec.name)
        found = actor_class(info, handles[spec.name])
        if found and found != spec.class_name:
            conflicts.append((spec, found))
            reports[spec.name] = ActorReport(spec.name, spec.kind, found, ACTION_CONFLICT,
                                             STATE_ALIVE if info else STATE_UNRESPONSIVE)
        elif info:
            reports[spec.name] = _report(spec, ACTION_EXISTS, info, nodes)
        elif spec.name in waited.errors and is_actor_died(waited.errors[spec.name]):
            missing.append(spec)  # died since the lookup: create it again
            handles[spec.name] = None
        else:
            error = short_error(waited.errors[spec.name]) if spec.name in waited.errors else (
                f"did not answer within {timeout:g} s")
            reports[spec.name] = ActorReport(spec.name, spec.kind, spec.class_name, ACTION_EXISTS,
                                             STATE_UNRESPONSIVE, error=error)
    if conflicts and not dry_run:
        raise conflict_error(conflicts, namespace)
    if dry_run:
        for spec in missing:
            reports[spec.name] = ActorReport(spec.name, spec.kind, spec.class_name,
                                             ACTION_WOULD_CREATE, STATE_NONE)
        return EnsureResult([reports[spec.name] for spec in specs], handles)

    # 2. Create the missing ones all at once; Ray's get_if_exists settles races between processes.
    token = uuid.uuid4().hex
    remote = {spec.cls: None for spec in missing}
    for cls in remote:
        remote[cls] = remote_class(cls)
    refs = {spec.name: _create_and_probe(remote[spec.cls], spec, namespace, token, handles, deadline)
            for spec in missing}
    waited = wait_all(refs, deadline - time.monotonic(), progress)
    for spec in missing:  # lost the race only when waiting: take the winner's actor and ask it
        if _lost_race(waited.errors.get(spec.name)):
            handles[spec.name] = _race_winner(spec.name, namespace, deadline)
            retry = wait_all({spec.name: handles[spec.name].__ray_call__.remote(probe)}, deadline - time.monotonic())
            waited.errors.pop(spec.name, None)
            waited.results.update(retry.results)
            waited.errors.update(retry.errors)
    for spec in missing:
        info = waited.results.get(spec.name)
        if info and info["class"] != spec.class_name:
            conflicts.append((spec, info["class"]))
        elif info:
            action = ACTION_CREATED if info.get("creator") == token else ACTION_EXISTS
            reports[spec.name] = _report(spec, action, info, nodes)
        else:
            err = waited.errors.get(spec.name)
            died = err is not None and is_actor_died(err)
            reports[spec.name] = ActorReport(
                spec.name, spec.kind, spec.class_name, ACTION_CREATED,
                STATE_DEAD if died else STATE_UNRESPONSIVE,
                error=short_error(err) if err else f"not ready within {timeout:g} s")
    if conflicts:
        raise conflict_error(conflicts, namespace)
    return EnsureResult([reports[spec.name] for spec in specs], handles)


def _lost_race(err: BaseException | None) -> bool:
    """Ray's answer to a create whose name another process took first (ActorAlreadyExistsError, or
    the ValueError Ray Client raises for it)."""
    return isinstance(err, ValueError) and "already" in str(err)


def _create_and_probe(remote_cls: Any, spec: ActorSpec, namespace: str, token: str, handles: dict,
                      deadline: float) -> Any:
    """Create the actor (get_if_exists) and send it the probe; the probe's ref.

    Through Ray Client, get_if_exists is not atomic between processes: a create can fail because
    another bootstrap made the name an instant before, at the create or at the first call. Then the
    other process's actor is taken (the probe reports it as existing, not created)."""
    try:
        handles[spec.name] = remote_cls.options(
            name=spec.name, namespace=namespace, get_if_exists=True, **spec_options(spec).to_ray_options(),
        ).remote(creator=token, **dict(spec.kwargs))
        return handles[spec.name].__ray_call__.remote(probe)
    except ValueError as err:
        if not _lost_race(err):
            raise
        handles[spec.name] = _race_winner(spec.name, namespace, deadline)
        return handles[spec.name].__ray_call__.remote(probe)


def _race_winner(name: str, namespace: str, deadline: float) -> Any:
    """The actor another process just created under `name` (it may take a moment to register)."""
    while True:
        handle = lookup(name, namespace)
        if handle is not None:
            return handle
        if time.monotonic() >= deadline:
            raise OperationFailed(f"actor {name!r} in namespace {namespace!r} was created by another process "
                                  "at the same moment, then vanished", "run bootstrap again")
        time.sleep(0.1)


def _report(spec: ActorSpec, action: str, info: dict, nodes: dict[str, NodeInfo]) -> ActorReport:
    node_id = info.get("node_id", "")
    return ActorReport(spec.name, spec.kind, info["class"], action, STATE_ALIVE, node_id=node_id,
                       node_ip=node_ip(node_id, nodes), node=node_label(node_id, nodes),
                       actor_id=info.get("actor_id", ""))
