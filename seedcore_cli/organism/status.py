"""Organism health, discovered from the cluster: `collect(connection, config, timeout)`.

The config says what should exist; the cluster says what does. One State API query gives every
actor of the namespace with Ray's own state, node, class and what it asked for; every organ, agent
and singleton Ray reports ALIVE is then asked for its status at once (one actor call each,
through `__ray_call__` so a foreign class answers too), and all calls share one deadline
(`ray.wait` with a timeout): a dead or hung actor never holds the caller past `timeout` (plus a
few GCS look-ups, milliseconds each). Actors Ray has not placed, or is restarting, are not asked
(the call would only wait): their state comes from the State API.

The one health model for singletons, organs and agents: `organism status` shows it, `diagnose`
judges by it (singletons: check 8; organs and agents: check 9). States of an actor: healthy
(answered as the expected class), pending (Ray has not placed it: PENDING_CREATION or
DEPENDENCIES_UNREADY; the detail says why: infeasible, waiting for resources, ...), restarting
(Ray is restarting it: its node was lost or its process died, and it has restarts left),
unresponsive (no answer within the timeout, or its status call failed), dead (gone, but the State
API or its organ remembers it), missing (never seen), conflict (the name is held by another
class); a singleton that answers but is not detached is `not detached` (it dies with the job that
made it). Pending and restarting are not healthy (exit 1): an organism Ray cannot place must not
look healthy, and a restarting one does not serve; a restart usually heals within seconds. An
organ is `degraded` when it answers but one of its agents is not healthy. Organs alive in the
namespace but absent from the config are listed with `extra=True` and do not count towards health.
Without the State API (no dashboard) pending and restarting actors show as unresponsive.

Two halves: `gather` asks the Cluster (one State API read, the GCS's names and nodes, one
probe_status call per actor under one deadline) and returns a `Snapshot`; `judge` turns a snapshot
into an `OrganismStatus` and does no I/O, so the health model is tested without a cluster.
`collect` is the two in a row. The results are plain dataclasses (no Typer or Rich).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from seedcore_cli.errors import ActorDied, ActorRestarting
from seedcore_cli.organism import capacity, placement, singletons
from seedcore_cli.organism.actors import probe_status
from seedcore_cli.organism.config import OrganismConfig, load
from seedcore_cli.organism.model import (
    ActorRecord,
    CreatedFrom,
    Health,
    NodeInfo,
    RayActorState,
    actor_class,
    node_ip,
    node_label,
)
from seedcore_cli.ray_boundary.cluster import Call, CallResult, Cluster, RayCluster

if TYPE_CHECKING:
    from seedcore_cli.organism.inventory import ActorRow
    from seedcore_cli.ray_boundary.connection import Connection

DEFAULT_TIMEOUT_S = 5.0

_ORGANISM_CLASSES = (None, "Organ", "Agent")


@dataclass(frozen=True)
class Problem:
    """One unhealthy actor: kind (singleton, organ, agent), name, state, and what was seen."""

    kind: str
    name: str
    state: Health
    detail: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "state": self.state, "detail": self.detail}


@dataclass(kw_only=True)
class PlacedRecord(ActorRecord):
    """ActorRecord plus what the State API says: Ray's state, restarts so far, what it asked Ray for."""

    ray_state: str = ""  # ALIVE, PENDING_CREATION, RESTARTING, ...; "" when the State API did not say
    num_restarts: int | None = None
    required_resources: dict[str, float] | None = None


@dataclass
class AgentStatus(PlacedRecord):
    agent_id: str
    organ_id: str
    state: Health
    idle_s: float | None = None  # since its last task (or its start)
    tasks_processed: int | None = None
    capability: float | None = None
    mem_util: float | None = None

    @property
    def healthy(self) -> bool:
        return self.state == Health.HEALTHY


@dataclass
class OrganStatus(PlacedRecord):
    organ_id: str
    organ_type: str
    state: Health
    extra: bool = False
    agents_expected: int = 0
    agents: list[AgentStatus] = field(default_factory=list)

    @property
    def agents_alive(self) -> int:
        """Agents that answered within the timeout."""
        return sum(1 for agent in self.agents if agent.healthy)

    @property
    def healthy(self) -> bool:
        return self.state == Health.HEALTHY

    def to_dict(self) -> dict:
        return {**super().to_dict(), "agents_alive": self.agents_alive,
                "agents": [agent.to_dict() for agent in self.agents]}


@dataclass
class SingletonStatus(PlacedRecord):
    name: str
    class_name: str
    state: Health
    detached: bool | None = None  # None when the State API did not answer
    ping_ms: float | None = None

    @property
    def healthy(self) -> bool:
        return self.state == Health.HEALTHY


@dataclass
class OrganismStatus:
    namespace: str
    config_source: str
    timeout_s: float
    elapsed_s: float
    organs: list[OrganStatus]
    singletons: list[SingletonStatus]
    state_api: bool  # whether the dashboard's State API answered (dead vs missing, pending, restarting)
    nodes: list[placement.NodeLoad] = field(default_factory=list)

    @property
    def expected_organs(self) -> list[OrganStatus]:
        return [organ for organ in self.organs if not organ.extra]

    @property
    def healthy(self) -> bool:
        return (all(organ.healthy for organ in self.expected_organs)
                and all(item.healthy for item in self.singletons))

    def problems(self) -> list[Problem]:
        found = [Problem("singleton", item.name, item.state, item.error)
                 for item in self.singletons if not item.healthy]
        for organ in self.expected_organs:
            if organ.state != Health.HEALTHY:
                found.append(Problem("organ", organ.organ_id, organ.state, organ.error))
            found += [Problem("agent", agent.agent_id, agent.state, agent.error)
                      for agent in organ.agents if not agent.healthy]
        return found

    def to_dict(self) -> dict:
        return {"namespace": self.namespace, "healthy": self.healthy, "config": self.config_source,
                "timeout_s": self.timeout_s, "elapsed_s": self.elapsed_s, "state_api": self.state_api,
                "singletons": [item.to_dict() for item in self.singletons],
                "organs": [organ.to_dict() for organ in self.organs],
                "nodes": [load.to_dict() for load in self.nodes],
                "problems": [problem.to_dict() for problem in self.problems()]}


@dataclass
class Snapshot:
    """What gather() saw, in one moment: everything judge() needs, no handles, no I/O left."""

    namespace: str
    timeout: float
    alive: set[str]  # the namespace's live named actors (the GCS)
    nodes: dict[str, NodeInfo]
    rows: list[ActorRow] | None  # the State API's rows; None when it did not answer
    asked: dict[str, CreatedFrom] = field(default_factory=dict)  # actors asked -> their handle's class
    answers: CallResult = field(default_factory=CallResult)  # their probe_status answers
    answered_ms: float | None = None
    offer: capacity.Offer | None = None  # read only when an actor is pending
    live_rows: dict[str, ActorRow] = field(init=False)
    dead_causes: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.live_rows = {row.name: row for row in self.rows or [] if row.state != RayActorState.DEAD and row.name}
        self.dead_causes = {row.name: _short_cause(row.death_cause) for row in self.rows or [] if row.state == RayActorState.DEAD}


@dataclass
class _Observed:
    """What the cluster said about one name."""

    state: Health
    info: dict = field(default_factory=dict)  # the probe's answer (class, node_id, status, ...)
    node_id: str = ""
    actor_id: str = ""
    error: str = ""
    row: ActorRow | None = None  # the State API's row for its live actor

    @property
    def status(self) -> dict:
        return self.info.get("status") or {}


def expected_classes(config: OrganismConfig) -> dict[str, str]:
    """name -> class name of every actor the config (and the singletons) says should exist."""
    expected: dict[str, str] = dict(singletons.SINGLETONS)
    for organ in config.organs:
        expected[organ.id] = "Organ"
        expected.update({agent_id: "Agent" for agent_id in organ.agent_ids})
    return expected


def collect(connection: Connection, config: OrganismConfig | None = None,
            timeout: float = DEFAULT_TIMEOUT_S, namespace: str | None = None, organs: bool = True,
            cluster: Cluster | None = None) -> OrganismStatus:
    """Ask every expected (and every extra) organ, agent and singleton for its status at once.

    `namespace` defaults to the connection's; `config` to the packaged default; organs=False
    looks at the singletons only; `cluster` to the connection's (RayCluster).
    """
    if not organs:  # the singletons only: no config to read
        config = OrganismConfig(organs=())
    elif config is None:
        config = load()
    namespace = namespace or connection.namespace
    started = time.monotonic()
    snapshot = gather(cluster or RayCluster(connection), namespace, expected_classes(config), timeout, organs)
    return judge(snapshot, config, organs, elapsed_s=round(time.monotonic() - started, 3))


def gather(cluster: Cluster, namespace: str, expected: Mapping[str, str], timeout: float,
           organs: bool = True) -> Snapshot:
    """One look at the cluster: the State API (in a thread, optional), the GCS's names and nodes,
    then every actor to ask asked at once, all within `timeout`."""
    deadline = time.monotonic() + timeout
    pool = ThreadPoolExecutor(max_workers=1)
    state_future = pool.submit(cluster.state_actors, namespace, timeout)
    pool.shutdown(wait=False)
    alive = cluster.named_actors(namespace)
    nodes = cluster.nodes()
    try:
        rows = state_future.result(timeout=max(0.05, deadline - time.monotonic()))
    except FuturesTimeout:  # the State API is optional: state_actors() is None when unreachable;
        rows = None  # what else it raises (a bad RAY_API_SERVER_ADDRESS, a changed answer) is reported
    snapshot = Snapshot(namespace, timeout, alive, nodes, rows)
    handles = _handles(cluster, alive, expected, snapshot.live_rows, namespace, organs)
    asked = time.monotonic()
    snapshot.answers = cluster.call_all({name: Call(handle, probe_status) for name, handle in handles.items()},
                                        deadline - time.monotonic())
    snapshot.answered_ms = round((time.monotonic() - asked) * 1000, 1)
    snapshot.asked = {name: cluster.handle_class(handle) for name, handle in handles.items()}
    if any(row.state not in (RayActorState.ALIVE, RayActorState.RESTARTING, RayActorState.DEPENDENCIES_UNREADY)
           for name, row in snapshot.live_rows.items() if name in alive):
        snapshot.offer = capacity.offer_of(nodes, cluster.available_resources())
    return snapshot


def judge(snapshot: Snapshot, config: OrganismConfig, organs: bool = True, elapsed_s: float = 0.0) -> OrganismStatus:
    """The organism's health from one snapshot (pure): each expected organ, agent and singleton,
    and the extra organs alive in the namespace."""
    expected = expected_classes(config)
    organ_list = [_organ_status(snapshot, organ.id, organ.type, list(organ.agent_ids), False)
                  for organ in config.organs]
    organ_list += [_organ_status(snapshot, name, "", [], True) for name in sorted(snapshot.alive - set(expected))
                   if organs and _is_organ(snapshot, name)]
    singleton_status = [_singleton_status(snapshot, name, class_name)
                        for name, class_name in singletons.SINGLETONS.items()]
    return OrganismStatus(namespace=snapshot.namespace, config_source=config.source, timeout_s=snapshot.timeout,
                          elapsed_s=elapsed_s, organs=organ_list, singletons=singleton_status,
                          state_api=snapshot.rows is not None,
                          nodes=_nodes(organ_list, singleton_status, snapshot.nodes))


def _why_pending(snapshot: Snapshot, row: ActorRow) -> str:
    if row.state == RayActorState.DEPENDENCIES_UNREADY:
        return "waiting for its dependencies (constructor arguments, runtime environment)"
    offer = snapshot.offer or capacity.offer_of(snapshot.nodes, {})
    return capacity.why_pending(row.required_resources or {}, offer)


def _not_asked(snapshot: Snapshot, row: ActorRow, expected_class: str) -> _Observed:
    """An actor Ray has not placed or is restarting: what the State API says of it."""
    if row.class_name and row.class_name != expected_class:
        return _Observed(Health.CONFLICT, {}, row.node_id, row.actor_id, f"held by a {row.class_name}, "
                         f"expected {expected_class}", row)
    if row.state == RayActorState.RESTARTING:
        info = snapshot.nodes.get(row.node_id)
        lost = f"; its node {row.node_id[:8]} is gone" if row.node_id and not (info and info.alive) else ""
        return _Observed(Health.RESTARTING, {}, row.node_id, row.actor_id,
                         f"Ray is restarting it (restarts so far: {row.num_restarts or 0}{lost})", row)
    return _Observed(Health.PENDING, {}, row.node_id, row.actor_id, _why_pending(snapshot, row), row)


def _unasked(snapshot: Snapshot, name: str, expected_class: str, remembered: bool) -> _Observed:
    """A name no actor was asked under: not placed, restarting, dead, or never there."""
    row = snapshot.live_rows.get(name)
    if row is not None and row.state != RayActorState.ALIVE and name in snapshot.alive:
        return _not_asked(snapshot, row, expected_class)
    if name in snapshot.dead_causes:
        return _Observed(Health.DEAD, error=snapshot.dead_causes[name])
    if remembered:
        return _Observed(Health.DEAD, error="registered with its organ, but gone")
    return _Observed(Health.MISSING)


def _seen(snapshot: Snapshot, name: str, expected_class: str, remembered: bool = False) -> _Observed:
    if name not in snapshot.asked:
        return _unasked(snapshot, name, expected_class, remembered)
    row = snapshot.live_rows.get(name)
    info = snapshot.answers.results.get(name)
    found = actor_class(info, snapshot.asked[name], row)
    if info is not None:
        node_id, actor_id = info.get("node_id", ""), info.get("actor_id", "")
    else:
        node_id, actor_id = (row.node_id, row.actor_id) if row else ("", "")
    if found and found != expected_class:
        return _Observed(Health.CONFLICT, info or {}, node_id, actor_id, f"held by a {found}, expected {expected_class}", row)
    if info is not None:
        return _Observed(Health.HEALTHY, info, node_id, actor_id, row=row)
    err = snapshot.answers.errors.get(name)
    if isinstance(err, ActorDied):
        return _Observed(Health.DEAD, {}, node_id, actor_id, "died", row)
    if isinstance(err, ActorRestarting):  # it died since the State API looked
        return _Observed(Health.RESTARTING, {}, node_id, actor_id, "Ray is restarting it", row)
    error = err.message if err is not None else f"no answer within {snapshot.timeout:g} s"
    return _Observed(Health.UNRESPONSIVE, {}, node_id, actor_id, error, row)


def _where(snapshot: Snapshot, item: _Observed) -> dict:
    row = item.row
    return {"node_id": item.node_id, "node_ip": node_ip(item.node_id, snapshot.nodes),
            "node": node_label(item.node_id, snapshot.nodes), "actor_id": item.actor_id,
            "ray_state": row.state if row else "", "num_restarts": row.num_restarts if row else None,
            "required_resources": dict(row.required_resources)
            if row is not None and row.required_resources is not None else None}


def _agent_status(snapshot: Snapshot, agent_id: str, organ_id: str, remembered: bool) -> AgentStatus:
    item = _seen(snapshot, agent_id, "Agent", remembered)
    status = item.status
    return AgentStatus(agent_id=agent_id, organ_id=organ_id, state=item.state, error=item.error,
                       idle_s=status.get("idle_s"), tasks_processed=status.get("tasks_processed"),
                       capability=status.get("capability"), mem_util=status.get("mem_util"),
                       **_where(snapshot, item))


def _organ_status(snapshot: Snapshot, organ_id: str, organ_type: str, agent_ids: list[str],
                  extra: bool) -> OrganStatus:
    item = _seen(snapshot, organ_id, "Organ")
    registered = set(item.status.get("agent_ids", []))
    if extra:
        agent_ids = sorted(registered)
    agents = [_agent_status(snapshot, agent_id, organ_id, agent_id in registered) for agent_id in agent_ids]
    state, error = item.state, item.error
    if state == Health.HEALTHY and not all(agent.healthy for agent in agents):
        state = Health.DEGRADED
    # An organ that answers but does not know a healthy agent cannot give it work.
    unknown = [agent.agent_id for agent in agents if agent.healthy and agent.agent_id not in registered]
    if state == Health.HEALTHY and unknown:
        state, error = Health.DEGRADED, (f"does not know its agent(s) {', '.join(unknown)}; "
                                  "run bootstrap again to register them")
    return OrganStatus(organ_id=organ_id, organ_type=item.status.get("organ_type", organ_type),
                       state=state, extra=extra, agents_expected=len(agent_ids),
                       error=error, agents=agents, **_where(snapshot, item))


def _is_organ(snapshot: Snapshot, name: str) -> bool:
    """An actor outside the config: an Organ (by its answer, handle or row; asked or not)?"""
    row = snapshot.live_rows.get(name)
    if name in snapshot.asked:
        return actor_class(snapshot.answers.results.get(name), snapshot.asked[name], row) == "Organ"
    return row is not None and row.state != RayActorState.ALIVE and row.class_name == "Organ"


def _singleton_status(snapshot: Snapshot, name: str, class_name: str) -> SingletonStatus:
    item = _seen(snapshot, name, class_name)
    row = snapshot.live_rows.get(name)
    detached = row.is_detached if row is not None and snapshot.rows is not None else None
    state, error = item.state, item.error
    if state == Health.HEALTHY and detached is False:
        state, error = Health.NOT_DETACHED, "it dies with the job that created it"
    return SingletonStatus(name=name, class_name=class_name, state=state, error=error, detached=detached,
                           ping_ms=snapshot.answered_ms if item.state == Health.HEALTHY else None, **_where(snapshot, item))


def _handles(cluster: Cluster, alive: set[str], expected: Mapping[str, str], live_rows: dict[str, ActorRow],
             namespace: str, organs: bool) -> dict[str, Any]:
    """Handles of the actors to ask: the expected ones, and (organs=True) any other Organ or Agent.

    With the State API's rows, names it shows as another class, or not ALIVE (pending,
    restarting: a call would only wait), are not even looked up; without them every name is, and
    a driver-mode handle's class filters the extras."""
    handles: dict[str, Any] = {}
    for name in sorted(alive):
        row = live_rows.get(name)
        if row is not None and (row.state != RayActorState.ALIVE or (
                name not in expected and row.class_name not in _ORGANISM_CLASSES)):
            continue
        if name not in expected and not organs:
            continue
        handle = cluster.lookup(name, namespace)
        if handle is None:
            continue
        if name in expected or actor_class(None, cluster.handle_class(handle), row) in _ORGANISM_CLASSES:
            handles[name] = handle
    return handles


def _nodes(organs: list[OrganStatus], singleton_status: list[SingletonStatus],
           nodes: dict[str, NodeInfo]) -> list[placement.NodeLoad]:
    """Per node, the organism's actors that exist (not missing, dead or another class's)."""
    records: list[tuple[str, str, PlacedRecord]] = [(item.name, item.state, item) for item in singleton_status]
    for organ in organs:
        records.append((organ.organ_id, organ.state, organ))
        records += [(agent.agent_id, agent.state, agent) for agent in organ.agents]
    absent = (Health.MISSING, Health.DEAD, Health.CONFLICT)
    return placement.summarize(((name, record.node_id, record.required_resources)
                                for name, state, record in records if state not in absent), nodes)


def _short_cause(cause: str | None) -> str:
    """inventory's one-line death cause, shortened: 'it was killed by `ray.kill`', ..."""
    return (cause or "").replace("The actor is dead because ", "").rstrip(".")
