"""SeedCore's cluster-wide singleton actors: `miss_tracker`, `shared_cache`, `mw`.

Each is a detached named actor in the target namespace, created with the singleton options
(`organism.options`: 0.01 CPU and restarts without limit unless the organism config's
`defaults.singleton` says otherwise), and answers `ping()`.

- `miss_tracker` (MissTracker): `incr(item_id)`, `get_top_n(n)`
- `shared_cache` (SharedCache): `get(key)`, `set(key, value)`, `delete(key)`, `get_all()`
- `mw` (MwStore): `incr(item_id, delta=1)`, `topn(n)`; at most `max_items` (10,000) entries,
  evicting the coldest (lowest count; the oldest among equals)

The classes are plain Python (`ray.remote` wraps them in the Ray boundary, when created); their
names and classes must agree with `names.SINGLETONS` (checked at import). Getting or creating them
is `creation.ensure`, race-safe and idempotent, so a name held by another class is refused before
anything is created; their health is the one health model (`status`, singletons only).

Importing this module does not import ray (the classes' base, `actors.SeedcoreActor`, imports it
only inside an actor); `ensure` imports `creation` and the Ray boundary when called. Nothing
here calls ray.init: callers pass the Connection that `connect()` returned; `namespace` defaults
to the connection's (named actors are addressed by explicit namespace, never by the
job's).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from seedcore_cli.organism.actors import SeedcoreActor
from seedcore_cli.organism.model import CREATE_TIMEOUT_S, KIND_SINGLETON, ActorReport, ActorSpec
from seedcore_cli.organism.names import SINGLETONS

if TYPE_CHECKING:
    from seedcore_cli.organism.options import ActorOptions
    from seedcore_cli.ray_boundary.cluster import Cluster
    from seedcore_cli.ray_boundary.connection import Connection

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
assert {name: cls.__name__ for name, cls in _CLASSES.items()} == SINGLETONS, "names.SINGLETONS is stale"


def specs(options: ActorOptions | None = None) -> list[ActorSpec]:
    return [ActorSpec(name, KIND_SINGLETON, cls, options=options) for name, cls in _CLASSES.items()]


def ensure(connection: Connection, dry_run: bool = False, timeout: float = CREATE_TIMEOUT_S,
           progress=None, namespace: str | None = None, cluster: Cluster | None = None) -> list[ActorReport]:
    """Get or create the three singletons in `namespace` (default: the connection's), through
    `cluster` (default: the connection's)."""
    from seedcore_cli.organism import creation
    from seedcore_cli.ray_boundary.cluster import RayCluster

    return creation.ensure(cluster if cluster is not None else RayCluster(connection), specs(),
                           namespace or connection.namespace, dry_run=dry_run, timeout=timeout,
                           progress=progress).reports
