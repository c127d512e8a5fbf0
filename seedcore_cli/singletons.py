"""SeedCore's cluster-wide singleton actors: `miss_tracker`, `shared_cache`, `mw`.

Each is a detached named actor in the target namespace, created with `num_cpus=0` (a bootstrap
fits on a 1-CPU cluster), and answers `ping()`.

- `miss_tracker` (MissTracker): `incr(item_id)`, `get_top_n(n)`
- `shared_cache` (SharedCache): `get(key)`, `set(key, value)`, `delete(key)`, `get_all()`
- `mw` (MwStore): `incr(item_id, delta=1)`, `topn(n)`; at most `max_items` (10,000) entries,
  evicting the coldest (lowest count; the oldest among equals)

Public API (the classes are plain Python; `ray.remote` wraps them only when actors are created):

- `SINGLETONS`: name -> expected class name.
- `ensure(connection, dry_run=False, timeout=..., namespace=None) -> list[ActorReport]`: get or create all three;
  idempotent, race-safe between processes; raises `ActorConflict` (exit 1) when a name is held by
  another class, before creating anything.
- `inspect(connection, timeout=5.0, namespace=None) -> list[SingletonHealth]`: for `diagnose`: per singleton,
  exists / class / alive / detached / ping ok / node, every call bounded by `timeout`;
  `SingletonHealth.healthy`, `.problem`, `.to_dict()`.

Importing this module does not import ray (`config`, `inventory` and the CLI read `SINGLETONS`);
`ensure` and `inspect` import the Ray-facing `actorutil` when called. Nothing here calls ray.init: callers pass the Connection that `connect()` returned; `namespace`
defaults to the connection's (named actors are addressed by explicit namespace, never by the
job's).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seedcore_cli.names import SINGLETONS
from seedcore_cli.organism.base import (
    CREATE_TIMEOUT_S,
    KIND_SINGLETON,
    ActorReport,
    ActorSpec,
    Placed,
    SeedcoreActor,
)

if TYPE_CHECKING:
    from seedcore_cli.connection import Connection

MW_MAX_ITEMS = 10_000


class MissTracker(SeedcoreActor):
    """Counts cache misses per item."""

    def __init__(self, creator: str = "") -> None:
        super().__init__(creator)
        self._misses: Counter[str] = Counter()

    def incr(self, item_id: str) -> int:
        self._misses[item_id] += 1
        return self._misses[item_id]

    def get_top_n(self, n: int) -> list[tuple[str, int]]:
        return self._misses.most_common(max(0, int(n)))


class SharedCache(SeedcoreActor):
    """A key-value cache shared by every SeedCore process."""

    def __init__(self, creator: str = "") -> None:
        super().__init__(creator)
        self._data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self._data.get(key)

    def set(self, key: str, value: Any) -> bool:
        self._data[key] = value
        return True

    def delete(self, key: str) -> bool:
        return self._data.pop(key, None) is not None

    def get_all(self) -> dict[str, Any]:
        return dict(self._data)


class MwStore(SeedcoreActor):
    """Working-memory access counts, bounded to `max_items` by evicting the coldest entry."""

    def __init__(self, creator: str = "", max_items: int = MW_MAX_ITEMS) -> None:
        super().__init__(creator)
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self._counts: dict[str, int] = {}  # insertion order: oldest first among equal counts

    def incr(self, item_id: str, delta: int = 1) -> int:
        if item_id not in self._counts and len(self._counts) >= self.max_items:
            coldest = min(self._counts, key=self._counts.__getitem__)
            del self._counts[coldest]
        self._counts[item_id] = self._counts.get(item_id, 0) + delta
        return self._counts[item_id]

    def topn(self, n: int) -> list[tuple[str, int]]:
        ranked = sorted(self._counts.items(), key=lambda item: item[1], reverse=True)
        return ranked[: max(0, int(n))]

    def size(self) -> int:
        return len(self._counts)


_CLASSES: dict[str, type] = {"miss_tracker": MissTracker, "shared_cache": SharedCache, "mw": MwStore}
assert SINGLETONS == {name: cls.__name__ for name, cls in _CLASSES.items()}, "names.SINGLETONS is stale"


def specs() -> list[ActorSpec]:
    return [ActorSpec(name, KIND_SINGLETON, cls) for name, cls in _CLASSES.items()]


def ensure(connection: "Connection", dry_run: bool = False, timeout: float = CREATE_TIMEOUT_S,
           progress=None, namespace: str | None = None) -> list[ActorReport]:
    """Get or create the three singletons in `namespace` (default: the connection's)."""
    from seedcore_cli.organism import actorutil

    return actorutil.ensure(specs(), namespace or connection.namespace, dry_run=dry_run,
                            timeout=timeout, progress=progress).reports


@dataclass
class SingletonHealth(Placed):
    """What `inspect()` found for one singleton name."""

    name: str
    expected_class: str
    exists: bool
    class_name: str = ""  # the class found ('' when nothing holds the name or it did not answer)
    alive: bool = False  # the actor answered, or the State API says ALIVE
    detached: bool | None = None  # None when the State API (dashboard) is not available
    ping_ok: bool = False
    ping_ms: float | None = None

    @property
    def class_ok(self) -> bool:
        return self.class_name == self.expected_class

    @property
    def healthy(self) -> bool:
        return self.exists and self.class_ok and self.ping_ok and self.detached is not False

    @property
    def problem(self) -> str:
        """'' when healthy, else one short reason."""
        if not self.exists:
            return "missing" + (f" ({self.error})" if self.error else "")
        if self.class_name and not self.class_ok:
            return f"held by a {self.class_name}, expected {self.expected_class}"
        if not self.ping_ok:
            return self.error or "ping failed"
        if self.detached is False:
            return "not detached: it dies with the job that created it"
        return ""

    def to_dict(self) -> dict:
        return {**super().to_dict(), "healthy": self.healthy, "problem": self.problem}


def inspect(connection: "Connection", timeout: float = 5.0, namespace: str | None = None
            ) -> list[SingletonHealth]:
    """Look at each singleton without creating anything; every call bounded by `timeout`."""
    from concurrent.futures import ThreadPoolExecutor

    from seedcore_cli.organism import actorutil

    namespace = namespace or connection.namespace
    deadline = time.monotonic() + timeout
    pool = ThreadPoolExecutor(max_workers=1)
    state_future = pool.submit(actorutil.state_actors, connection, namespace, timeout)
    pool.shutdown(wait=False)
    nodes = actorutil.node_index()
    handles = {name: actorutil.lookup(name, namespace) for name in SINGLETONS}
    started = time.monotonic()
    refs = {name: h.__ray_call__.remote(actorutil.probe) for name, h in handles.items() if h is not None}
    waited = actorutil.wait_all(refs, deadline - time.monotonic())
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    try:
        state = state_future.result(timeout=max(0.1, deadline - time.monotonic()))
    except Exception:  # noqa: BLE001 - the State API is optional
        state = None
    live_state = {row.name: row for row in state or [] if row.state != "DEAD"}

    health: list[SingletonHealth] = []
    for name, expected in SINGLETONS.items():
        handle = handles[name]
        row = live_state.get(name)
        item = SingletonHealth(name=name, expected_class=expected, exists=handle is not None)
        if state is not None and handle is not None:
            item.detached = bool(row.is_detached) if row else None
        if handle is None:
            health.append(item)
            continue
        info = waited.results.get(name)
        item.class_name = actorutil.actor_class(info, handle, row) or ""
        if info is not None:
            item.alive, item.ping_ok = True, True
            item.ping_ms = elapsed_ms
            item.node_id, item.actor_id = info.get("node_id", ""), info.get("actor_id", "")
        else:
            item.alive = row is not None and row.state == "ALIVE"
            item.node_id, item.actor_id = (row.node_id, row.actor_id) if row else ("", "")
            err = waited.errors.get(name)
            item.error = actorutil.short_error(err) if err else f"no answer within {timeout:g} s"
        item.node_ip = actorutil.node_ip(item.node_id, nodes)
        health.append(item)
    return health
