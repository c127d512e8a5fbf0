"""The one interface organism code talks to the cluster through (`Cluster`), and its
implementation over a live Ray connection (`RayCluster`).

Invariants:

- Importing this module does not import ray (`seedcore --help` must not): `RayCluster` imports it
  inside each method, after connect() prepared the process.
- Ray's exceptions are turned into seedcore's here, once, by `_ERRORS` (see `translate`); code
  above the boundary sees `errors.ActorCallFailed` and its subclasses, `errors.ClusterLost`,
  never a Ray exception. The create race (another process made the name first) is one of them
  (`NameTaken`), whether Ray reports it at the create or at the first call.
- Every batch of actor calls (`call_all`) shares one deadline: a dead or hung actor never holds
  the caller past it; what did not answer is reported pending, not waited for.
- It works the same in driver and Ray Client (ray://) mode: only `ray.get_actor`, actor calls,
  `ray.wait`, `ray.nodes()`, `ray.available_resources()` and `ray.util.list_named_actors`, plus the
  dashboard's State REST API over plain HTTP (never `ray.util.state`, which calls ray.init again
  under Ray Client). The State API is read in one place (`RayCluster.state_actors`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from seedcore_cli.errors import (
    ActorCallFailed,
    ActorDied,
    ActorRestarting,
    CallTimedOut,
    CannotConnect,
    ClusterLost,
    NameTaken,
    OperationFailed,
    fold,
    traceback_tail,
)
from seedcore_cli.organism import inventory
from seedcore_cli.organism.model import NodeInfo, Progress
from seedcore_cli.ray_boundary import ray_compat, state_api

if TYPE_CHECKING:
    from seedcore_cli.ray_boundary.connection import Connection

Handle = Any  # an actor handle: opaque above the boundary
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Call:
    """One actor call: `target` is a function run inside the actor (`__ray_call__`, so any class
    answers it) or the name of one of the actor's methods; `args` are passed after it."""

    handle: Handle
    target: Callable[..., Any] | str
    args: tuple[Any, ...] = ()


@dataclass
class CallResult:
    """What call_all() found: answers by key, seedcore errors by key, keys still pending at the
    deadline (each key in exactly one of the three)."""

    results: dict = field(default_factory=dict)
    errors: dict[Any, ActorCallFailed] = field(default_factory=dict)
    pending: set = field(default_factory=set)

    def merge(self, other: CallResult) -> None:
        """Take `other`'s outcome for its keys (a retry of some of these calls)."""
        for key in [*other.results, *other.errors, *other.pending]:
            self.results.pop(key, None)
            self.errors.pop(key, None)
            self.pending.discard(key)
        self.results.update(other.results)
        self.errors.update(other.errors)
        self.pending |= other.pending


class Cluster(Protocol):
    """What the organism asks of a Ray cluster. Errors are seedcore's (see the module's table)."""

    def lookup(self, name: str, namespace: str) -> Handle | None:
        """The live actor holding `name` in `namespace`, or None."""

    def named_actors(self, namespace: str) -> set[str]:
        """Names of the live named actors in `namespace`."""

    def create(self, cls: type, *, name: str, namespace: str, options: Mapping[str, Any],
               kwargs: Mapping[str, Any]) -> Handle:
        """Get or create a named actor of `cls` (Ray's get_if_exists) with Ray `options`; raises
        NameTaken when another process created the name an instant before."""

    def call_all(self, calls: Mapping[K, Call], timeout: float,
                 progress: Progress | None = None) -> CallResult:
        """Make every call at once and wait for them until one deadline."""

    def kill(self, handle: Handle) -> None:
        """Kill the actor, no restart."""

    def actor_id(self, handle: Handle) -> str:
        """The actor id a handle points at, without calling it (ray_compat.ApiChanged if unreadable)."""

    def handle_class(self, handle: Handle) -> tuple[str, str] | None:
        """(module, class) a driver-mode handle was created from; None under Ray Client."""

    def nodes(self) -> dict[str, NodeInfo]:
        """node id -> NodeInfo for every node the GCS knows."""

    def available_resources(self) -> dict[str, float]:
        """What is free on the cluster now."""

    def state_actors(self, namespace: str, timeout: float) -> list[inventory.ActorRow] | None:
        """The namespace's actors from the State API (DEAD ones too); None without a dashboard."""


# --- Ray's errors, mapped once ------------------------------------------------------------------


def short_error(err: BaseException) -> str:
    """One clean line for a Ray error: for a remote traceback its last meaningful line (the
    exception raised in the actor), no colour codes, no object reprs."""
    text = str(err).strip()
    line = traceback_tail(text) if "Traceback (most recent call last)" in text else (text.splitlines() or [""])[0]
    return fold(f"{type(err).__name__}: {line}" if line else type(err).__name__, 240)


def _is_create_race(err: BaseException) -> bool:
    # ActorAlreadyExistsError (a ValueError), or the ValueError Ray Client raises for it
    return isinstance(err, ValueError) and "already" in str(err)


def _error_table() -> list[tuple[Callable[[BaseException], bool], type[ActorCallFailed]]]:
    """THE table: Ray's error -> seedcore's, first match wins (ray imported here, lazily)."""
    import ray

    exceptions = ray.exceptions
    return [
        (lambda err: isinstance(err, exceptions.ActorUnavailableError), ActorRestarting),  # before its base
        (lambda err: isinstance(err, exceptions.RayActorError), ActorDied),
        (lambda err: isinstance(err, exceptions.GetTimeoutError), CallTimedOut),
        (_is_create_race, NameTaken),
        (lambda err: isinstance(err, ConnectionError), ActorCallFailed),  # a lost connection, for that call
    ]


def translate(err: BaseException) -> ActorCallFailed:
    """The seedcore error for a Ray error from an actor call or create; anything the table does
    not name (an exception raised in the actor, say) is a plain ActorCallFailed."""
    if isinstance(err, ActorCallFailed):
        return err
    for matches, kind in _error_table():
        if matches(err):
            return kind(short_error(err))
    return ActorCallFailed(short_error(err))


@contextmanager
def _cluster_op(what: str) -> Iterator[None]:
    """Around a cluster-level call (look-up, node list, wait): a broken connection is ClusterLost."""
    try:
        yield
    except ConnectionError as err:
        raise ClusterLost(f"lost the connection to the Ray cluster while {what}: {short_error(err)}",
                          "check that the cluster is up (`seedcore diagnose`), then run the command again") from err


# --- the implementation over a live connection ---------------------------------------------------


class RayCluster:
    """The Cluster over the live Ray connection connect() made (ray is imported by each method)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._remote: dict[type, Any] = {}  # ray.remote(cls), once per class (one export each)

    def lookup(self, name: str, namespace: str) -> Handle | None:
        import ray

        with _cluster_op(f"looking up actor {name!r}"):
            try:
                return ray.get_actor(name, namespace=namespace)
            except ValueError:
                return None

    def named_actors(self, namespace: str) -> set[str]:
        import ray

        with _cluster_op("listing named actors"):
            entries = ray.util.list_named_actors(all_namespaces=True)
        return {entry["name"] for entry in entries if entry.get("namespace") == namespace}

    def create(self, cls: type, *, name: str, namespace: str, options: Mapping[str, Any],
               kwargs: Mapping[str, Any]) -> Handle:
        import ray

        try:
            if cls not in self._remote:
                self._remote[cls] = ray.remote(cls)
            return self._remote[cls].options(name=name, namespace=namespace, get_if_exists=True,
                                             **options).remote(**kwargs)
        except ValueError as err:  # what else create raises is a programming error: it escapes
            if _is_create_race(err):
                raise translate(err) from err
            raise

    def _submit(self, call: Call) -> Any:
        if callable(call.target):
            return call.handle.__ray_call__.remote(call.target, *call.args)
        return getattr(call.handle, call.target).remote(*call.args)

    def call_all(self, calls: Mapping[K, Call], timeout: float,
                 progress: Progress | None = None) -> CallResult:
        import ray

        waited = CallResult()
        if not calls:
            return waited
        deadline = time.monotonic() + max(0.0, timeout)
        key_of: dict[Any, Hashable] = {}
        for key, call in calls.items():
            try:
                key_of[self._submit(call)] = key
            except Exception as err:  # Ray Client reports a create race at the first call
                waited.errors[key] = translate(err)
        pending = list(key_of)
        done = len(waited.errors)
        while pending:
            remaining = max(0.0, deadline - time.monotonic())
            with _cluster_op("waiting for actors to answer"):
                ready, pending = ray.wait(pending, num_returns=1 if progress else len(pending), timeout=remaining)
            for ref in ready:
                try:
                    waited.results[key_of[ref]] = ray.get(ref, timeout=max(1.0, remaining))
                except Exception as err:
                    waited.errors[key_of[ref]] = translate(err)
            done += len(ready)
            if progress and ready:
                progress(done, len(calls))
            if not ready or time.monotonic() >= deadline:
                break
        waited.pending = {key_of[ref] for ref in pending}
        return waited

    def kill(self, handle: Handle) -> None:
        import ray

        with _cluster_op("killing an actor"):
            ray.kill(handle, no_restart=True)

    def actor_id(self, handle: Handle) -> str:
        return ray_compat.handle_actor_id(handle)

    def handle_class(self, handle: Handle) -> tuple[str, str] | None:
        return ray_compat.handle_class(handle)

    def nodes(self) -> dict[str, NodeInfo]:
        import ray

        with _cluster_op("listing the nodes"):
            found = ray.nodes()
        index: dict[str, NodeInfo] = {}
        for node in found:
            node_id = node.get("NodeID", "")
            resources = dict(node.get("Resources") or {})
            index[node_id] = NodeInfo(node_id=node_id, ip=node.get("NodeManagerAddress", ""),
                                      alive=bool(node.get("Alive")),
                                      is_head=ray_compat.HEAD_NODE_RESOURCE in resources, resources=resources)
        return index

    def available_resources(self) -> dict[str, float]:
        import ray

        with _cluster_op("reading the free resources"):
            return dict(ray.available_resources())

    def state_actors(self, namespace: str, timeout: float) -> list[inventory.ActorRow] | None:
        """inventory's client (RAY_API_SERVER_ADDRESS, the bearer token), so it works in every
        connection mode; None when there is no dashboard or it cannot be reached within `timeout`
        (callers fall back to what the actors and the GCS say). An answer in a shape seedcore
        does not know raises OperationFailed: a changed payload must not look like "no State API"."""
        url, source = state_api.dashboard_url_for(self.connection)
        if not url:
            return None
        try:
            result = state_api.fetch_actors(url, [("ray_namespace", "=", namespace)], limit=inventory.MAX_LIMIT,
                                            detail=True, timeout=timeout, source=source, token=self.connection.token,
                                            http_timeout=max(0.2, timeout))
        except CannotConnect:  # no dashboard, unreachable, refused: the callers' fallback
            return None
        entries = result.get("result") if isinstance(result, dict) else None
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise OperationFailed(f"the State API at {url} (from {source}) answered /api/v0/actors in an unknown "
                                  f"shape ({fold(repr(result), 80)})",
                                  "use a Ray version this seedcore supports (pyproject's range)")
        return inventory.rows_from_api(entries, detail=True)

