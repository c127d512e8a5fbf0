"""The Ray-free half of seedcore's actor plumbing: the actor base class, the probe, specs, reports.

Nothing here imports ray at import time (`probe` imports it when it runs, inside an actor), so
`singletons` and, through it, `config` and the CLI can name seedcore's actors without paying
for Ray. `actorutil` (which does import ray) re-exports all of it.

- `SeedcoreActor`: base of seedcore's actor classes; its `_seedcore_creator` attribute is the
  marker `probe()` reports as `creator` (None for any other class).
- `probe(instance)` / `probe_status(instance)`: run inside any actor through `__ray_call__`.
- `is_seedcore(info)`: whether a probe answer came from a SeedcoreActor.
- `ActorSpec`, `ActorReport`; the KIND_*, ACTION_* and STATE_* names.
- `NodeInfo`: one node of the cluster (id, IP, alive, head, its resource totals).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seedcore_cli.organism.options import ActorOptions

CREATE_TIMEOUT_S = 120.0
TEARDOWN_WAIT_S = 15.0  # how long teardown waits to confirm its kills

KIND_SINGLETON = "singleton"
KIND_ORGAN = "organ"
KIND_AGENT = "agent"

ACTION_CREATED = "created"
ACTION_REPAIRED = "repaired"  # created again: the actor that held the name had died
ACTION_EXISTS = "exists"
ACTION_WOULD_CREATE = "would create"
ACTION_WOULD_REPAIR = "would repair"
ACTION_CONFLICT = "conflict"

STATE_ALIVE = "ALIVE"
STATE_UNRESPONSIVE = "UNRESPONSIVE"
STATE_DEAD = "DEAD"
STATE_NONE = "-"
# Ray holds the name but the actor cannot answer yet: not placed (PENDING_CREATION,
# DEPENDENCIES_UNREADY) or being restarted. Reported as Ray says, not waited for.
STATE_PENDING = "PENDING"
STATE_RESTARTING = "RESTARTING"


class SeedcoreActor:
    """Base of seedcore's actor classes: remembers which bootstrap created it; answers ping()."""

    def __init__(self, creator: str = "") -> None:
        self._seedcore_creator = creator

    def ping(self) -> dict:
        return probe(self)


def probe(instance: Any) -> dict:
    """Runs inside an actor (via `__ray_call__`, so it works on any class): who and where am I."""
    import ray  # inside the actor, where ray is loaded anyway

    context = ray.get_runtime_context()
    return {
        "class": type(instance).__name__,
        "node_id": context.get_node_id(),
        "actor_id": context.get_actor_id() or "",
        "pid": os.getpid(),
        "creator": getattr(instance, "_seedcore_creator", None),
    }


def probe_status(instance: Any) -> dict:
    """probe() plus the actor's own get_status() when it has one (organs and agents do)."""
    info = probe(instance)
    get_status = getattr(instance, "get_status", None)
    if callable(get_status):
        info["status"] = get_status()
    return info


def is_seedcore(info: dict | None) -> bool:
    """Whether a probe() answer came from one of seedcore's own classes (a SeedcoreActor)."""
    return bool(info) and info.get("creator") is not None


@dataclass(frozen=True)
class ActorSpec:
    """One detached named actor seedcore wants: its name, kind, class, constructor kwargs and Ray
    options (`organism.options.ActorOptions`; None: the built-in ones of its kind)."""

    name: str
    kind: str
    cls: type
    kwargs: tuple[tuple[str, Any], ...] = ()
    options: ActorOptions | None = None

    @property
    def class_name(self) -> str:
        return self.cls.__name__


@dataclass(kw_only=True)
class ActorRecord:
    """Where an actor runs and what went wrong with it: the fields every report row shares."""

    node_id: str = ""
    node_ip: str = ""
    node: str = ""  # a label for tables: "IP (short id, head)"
    actor_id: str = ""
    error: str = ""

    def to_dict(self) -> dict:
        """Every field by name (`class_name` as "class"), for JSON output."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        if "class_name" in data:
            data["class"] = data.pop("class_name")
        return data


@dataclass
class ActorReport(ActorRecord):
    """One row of `bootstrap`: what was done to an actor and how it is now."""

    name: str
    kind: str
    class_name: str
    action: str
    state: str
    previous_death: str = ""  # repaired: how the actor it replaces had died

    @property
    def ok(self) -> bool:
        if self.action == ACTION_CONFLICT:
            return False
        return self.state == STATE_ALIVE or self.action in (ACTION_WOULD_CREATE, ACTION_WOULD_REPAIR)


@dataclass(frozen=True)
class NodeInfo:
    """One node as the GCS knows it: id, IP, alive, head, and its resource totals."""

    node_id: str
    ip: str
    alive: bool
    is_head: bool
    resources: Mapping[str, float] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return f"{self.ip} ({self.node_id[:8]}{', head' if self.is_head else ''})"
