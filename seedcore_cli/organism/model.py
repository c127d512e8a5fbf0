"""The organism's plain data: kinds, actions, states, specs, reports, nodes. No ray, no I/O.

Everything here is a value the planning and judging functions (creation, status, manager) pass
around and the CLI renders; the Ray boundary (ray_boundary/cluster.py) fills `NodeInfo`. Importing
it costs nothing, so `config`, `options` and the CLI can name these while parsing.

Invariants: an actor's class is resolved in one place (`actor_class`: its own answer, else its
driver-mode handle's descriptor, else the State API row); whether an actor is one of seedcore's
own classes, likewise (`is_seedcore_actor`: the SeedcoreActor marker in its answer, else a
handle created from a seedcore_cli module).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from seedcore_cli.errors import Word

Progress = Callable[[int, int], None]
CreatedFrom = tuple[str, str] | None  # (module, class) a driver-mode handle carries; None under Ray Client

CREATE_TIMEOUT_S = 120.0
TEARDOWN_WAIT_S = 15.0  # how long teardown waits to confirm its kills

KIND_SINGLETON = "singleton"
KIND_ORGAN = "organ"
KIND_AGENT = "agent"

class Action(Word):
    """What bootstrap did (or would do) to an actor."""

    CREATED = "created"
    REPAIRED = "repaired"  # created again: the actor that held the name had died
    EXISTS = "exists"
    WOULD_CREATE = "would create"
    WOULD_REPAIR = "would repair"
    CONFLICT = "conflict"


class ActorState(Word):
    """How an actor is, as seedcore reports it (Ray's own state names where they coincide)."""

    ALIVE = "ALIVE"
    UNRESPONSIVE = "UNRESPONSIVE"  # Ray says alive, the actor did not answer within the deadline
    DEAD = "DEAD"
    NONE = "-"  # not there (a dry run's "would create")
    # Ray holds the name but the actor cannot answer yet: not placed (PENDING_CREATION,
    # DEPENDENCIES_UNREADY) or being restarted. Reported as Ray says, not waited for.
    PENDING = "PENDING"
    RESTARTING = "RESTARTING"


class Health(Word):
    """An actor's (or organ's) health as `organism status` judges it."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"  # an organ that answers but does not know all of its agents
    PENDING = "pending"
    RESTARTING = "restarting"
    DEAD = "dead"
    MISSING = "missing"
    UNRESPONSIVE = "unresponsive"
    CONFLICT = "conflict"  # the name is held by an actor of another class
    NOT_DETACHED = "not detached"


class RayActorState(Word):
    """Ray's own actor states, as its State API reports them."""

    DEPENDENCIES_UNREADY = "DEPENDENCIES_UNREADY"
    PENDING_CREATION = "PENDING_CREATION"
    ALIVE = "ALIVE"
    RESTARTING = "RESTARTING"
    DEAD = "DEAD"


def is_seedcore(info: dict | None) -> bool:
    """Whether a probe() answer came from one of seedcore's own classes (a SeedcoreActor)."""
    return bool(info and info.get("creator") is not None)


@dataclass(frozen=True)
class ActorSpec:
    """One detached named actor seedcore wants: its name, kind, class, constructor kwargs and Ray
    options (`organism.options.ActorOptions`; None: the built-in ones of its kind)."""

    name: str
    kind: str
    cls: type
    kwargs: tuple[tuple[str, Any], ...] = ()
    options: Any = None  # organism.options.ActorOptions (not imported: options imports this module)

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
    action: Action
    state: ActorState
    previous_death: str = ""  # repaired: how the actor it replaces had died

    @property
    def ok(self) -> bool:
        if self.action == Action.CONFLICT:
            return False
        return self.state == ActorState.ALIVE or self.action in (Action.WOULD_CREATE, Action.WOULD_REPAIR)


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


def node_ip(node_id: str, nodes: Mapping[str, NodeInfo]) -> str:
    info = nodes.get(node_id or "")
    return info.ip if info else ""


def node_label(node_id: str, nodes: Mapping[str, NodeInfo]) -> str:
    if not node_id:
        return ""
    info = nodes.get(node_id)
    return info.label if info else node_id[:8]


def actor_class(info: dict | None, created_from: CreatedFrom = None, row: Any = None) -> str | None:
    """The class of an actor: what its probe answered, else what its handle carries (driver
    mode), else what the State API row (an inventory.ActorRow) says; None when nothing tells."""
    return ((info or {}).get("class") or ((created_from[1] or None) if created_from else None)
            or (row.class_name if row is not None else None) or None)


def is_seedcore_actor(info: dict | None, created_from: CreatedFrom = None) -> bool:
    """Whether the actor is one of seedcore's classes (SeedcoreActor): its probe shows the marker,
    or, when it did not answer, its driver-mode handle names a seedcore_cli module."""
    if info:
        return is_seedcore(info)
    module = created_from[0] if created_from else ""
    return module == "seedcore_cli" or module.startswith("seedcore_cli.")
