"""OrganismManager: brings the organism up, reports it, tears it down. Built from a Connection.

It cannot exist without a live connection (its constructor takes the Connection `connect()`
returned, and gets its Cluster from it) and is never created at import time: commands build it
after connecting. Its namespace is the connection's unless one is given (library use: actors are
always addressed with an explicit namespace). Teardown's choice of what to kill is a pure
function (`teardown_items`) over what the actors answered.

Bootstrap's invariants: nothing is created when the actors still missing do not fit
(`InsufficientCapacity`) or when a name is held by another class (`ActorConflict`); what is
healthy is left alone; an actor that died (the State API remembers it DEAD, not killed on
purpose) is created again and reported `repaired`; every organ gets its agents' names and the
namespace, so it finds them again after Ray restarts it, and is told its live agents after each
bootstrap; a dry run creates nothing.

Teardown's invariants: only seedcore's own classes are killed (the SeedcoreActor marker; a foreign
class named `Agent` survives), singletons only when asked, and only the very actors planned (an
actor that took a name since the plan is left alone); each kill is confirmed (State API, else the
GCS's name table) or reported, never assumed.
"""

from __future__ import annotations

import time
from collections.abc import Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from seedcore_cli.errors import OperationFailed, SeedcoreError
from seedcore_cli.organism import capacity, creation, singletons
from seedcore_cli.organism.actors import Agent, Organ, probe
from seedcore_cli.organism.config import OrganismConfig, load
from seedcore_cli.organism.model import (
    CREATE_TIMEOUT_S,
    KIND_AGENT,
    KIND_ORGAN,
    KIND_SINGLETON,
    TEARDOWN_WAIT_S,
    Action,
    ActorReport,
    ActorSpec,
    ActorState,
    CreatedFrom,
    Progress,
    RayActorState,
    actor_class,
    is_seedcore_actor,
)
from seedcore_cli.organism.options import ActorOptions, spec_options
from seedcore_cli.ray_boundary.cluster import Call, Cluster, RayCluster
from seedcore_cli.ray_boundary.ray_compat import ApiChanged

if TYPE_CHECKING:
    from seedcore_cli.organism.inventory import ActorRow
    from seedcore_cli.organism.status import OrganismStatus
    from seedcore_cli.ray_boundary.connection import Connection

STATE_WAIT_S = 10.0  # bootstrap's wait for the State API (what died); it goes on without it

WOULD_KILL = "would kill"
KILLED = "killed"
ALREADY_GONE = "already gone"
REPLACED = "replaced since planned: left alone"
STILL_ALIVE = "still alive"
ID_UNKNOWN = "id unreadable: not killed"


@dataclass
class BootstrapResult:
    namespace: str
    config_source: str
    dry_run: bool
    actors: list[ActorReport]
    options: dict[str, ActorOptions] = field(default_factory=dict)  # by actor name
    capacity_plan: capacity.CapacityPlan | None = None

    @property
    def ok(self) -> bool:
        fits = self.capacity_plan is None or self.capacity_plan.ok
        return fits and all(report.ok for report in self.actors)

    def count(self, action: Action) -> int:
        return sum(1 for report in self.actors if report.action == action)

    def to_dict(self) -> dict:
        return {"namespace": self.namespace, "config": self.config_source, "dry_run": self.dry_run,
                "ok": self.ok, "created": self.count(Action.CREATED),
                "repaired": self.count(Action.REPAIRED),
                "existing": self.count(Action.EXISTS),
                "would_create": self.count(Action.WOULD_CREATE),
                "would_repair": self.count(Action.WOULD_REPAIR),
                "actors": [{**report.to_dict(), "options": self.options[report.name].to_dict()
                            if report.name in self.options else None} for report in self.actors],
                "capacity": self.capacity_plan.to_dict() if self.capacity_plan is not None else None}


@dataclass
class TeardownItem:
    name: str
    kind: str
    class_name: str
    action: str = WOULD_KILL  # then: KILLED | ALREADY_GONE | REPLACED | STILL_ALIVE | ID_UNKNOWN
    actor_id: str = ""  # the actor planned: teardown kills it only if the name still points at it
    handle: Any = field(default=None, repr=False, compare=False)
    verified: str = ""  # how its end was confirmed: "State API: DEAD", "GCS: name released"

    @property
    def killed(self) -> bool:
        return self.action == KILLED

    @property
    def failed(self) -> bool:
        return self.action in (STILL_ALIVE, ID_UNKNOWN)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "class": self.class_name, "action": self.action,
                "actor_id": self.actor_id, "verified": self.verified}


def teardown_items(answers: dict[str, dict], created_from: dict[str, CreatedFrom], ids: dict[str, str],
                   include_singletons: bool = False) -> list[TeardownItem]:
    """What teardown kills, from the probes of the namespace's named actors (pure): seedcore's own
    Organ and Agent actors (the SeedcoreActor marker in the answer, or, silent, a driver-mode
    handle from a seedcore_cli module), and the singletons when asked; agents first, then organs,
    then singletons. `ids`: each actor's id from its handle ('' when unreadable: the answer's)."""
    kinds = {Organ.__name__: KIND_ORGAN, Agent.__name__: KIND_AGENT}
    items = []
    for name, handle_class in created_from.items():
        info = answers.get(name)
        if not is_seedcore_actor(info, handle_class):
            continue
        cls = actor_class(info, handle_class)
        kind = kinds.get(cls or "")
        if kind is None and include_singletons and cls is not None and singletons.SINGLETONS.get(name) == cls:
            kind = KIND_SINGLETON
        if kind is not None and cls is not None:
            actor_id = ids.get(name, "") or (info or {}).get("actor_id", "")
            items.append(TeardownItem(name, kind, cls, actor_id=actor_id))
    order = {KIND_AGENT: 0, KIND_ORGAN: 1, KIND_SINGLETON: 2}
    return sorted(items, key=lambda item: (order[item.kind], item.name))


def confirmed_dead(pending: dict[str, TeardownItem], rows: list[ActorRow]) -> list[str]:
    """The actor ids of `pending` the State API's rows show DEAD."""
    states = {row.actor_id: row.state for row in rows}
    return [actor_id for actor_id in pending if states.get(actor_id) == RayActorState.DEAD]


class OrganismManager:
    """The organism in the connection's namespace."""

    def __init__(self, connection: Connection, config: OrganismConfig | None = None,
                 namespace: str | None = None, cluster: Cluster | None = None) -> None:
        if connection is None:
            raise TypeError("OrganismManager needs the Connection that connect() returned")
        self.connection = connection
        self.cluster: Cluster = cluster if cluster is not None else RayCluster(connection)
        self.namespace = namespace or connection.namespace
        self._config = config

    @property
    def config(self) -> OrganismConfig:
        if self._config is None:
            self._config = load()
        return self._config

    def specs(self, singletons_only: bool = False) -> list[ActorSpec]:
        """Every actor the organism needs, singletons first, then organs, then agents."""
        specs = singletons.specs(self.config.singleton_options)
        if singletons_only:
            return specs
        for organ in self.config.organs:
            specs.append(ActorSpec(organ.id, KIND_ORGAN, Organ, (
                ("organ_id", organ.id), ("organ_type", organ.type),
                ("description", organ.description), ("task_types", tuple(organ.task_types)),
                ("agent_ids", tuple(organ.agent_ids)), ("namespace", self.namespace)), organ.options))
        for organ in self.config.organs:
            for agent in organ.agents:
                specs.append(ActorSpec(agent.name, KIND_AGENT, Agent, (
                    ("agent_id", agent.name), ("organ_id", organ.id), ("organ_type", organ.type),
                    ("specialization", agent.specialization)), agent.options))
        return specs

    def initialize(self, singletons_only: bool = False, dry_run: bool = False,
                   timeout: float = CREATE_TIMEOUT_S, progress: Progress | None = None
                   ) -> BootstrapResult:
        deadline = time.monotonic() + timeout
        specs = self.specs(singletons_only)
        # What died (to report it repaired) comes from the State API.
        # It also tells which named actors Ray has not placed: they hold no resources yet.
        rows = self.cluster.state_actors(self.namespace, min(timeout, STATE_WAIT_S))
        not_ready = creation.not_ready(rows)
        fit = self.plan_capacity(specs, unplaced=set(not_ready))
        if not fit.ok and not dry_run:
            raise capacity.InsufficientCapacity(fit)
        ensured = creation.ensure(self.cluster, specs, self.namespace, dry_run=dry_run, timeout=timeout, progress=progress,
                                  dead=creation.deaths(rows), not_ready=not_ready)
        if not dry_run and not singletons_only:
            self._register_agents(ensured, deadline - time.monotonic())
        return BootstrapResult(self.namespace, self.config.source, dry_run, ensured.reports,
                               {spec.name: spec_options(spec) for spec in specs}, fit)

    def plan_capacity(self, specs: list[ActorSpec], unplaced: Set[str] = frozenset()) -> capacity.CapacityPlan:
        """What the specs ask against what the cluster offers; actors that exist (and are placed:
        not in `unplaced`) hold theirs already."""
        existing = self.cluster.named_actors(self.namespace) - set(unplaced)
        demands = [capacity.Demand(spec.name, spec.kind, spec_options(spec).demand(), spec.name in existing)
                   for spec in specs]
        offer = capacity.offer_of(self.cluster.nodes(), self.cluster.available_resources())
        return capacity.plan(demands, offer)

    def _register_agents(self, ensured: creation.EnsureResult, timeout: float) -> None:
        """Tell each live organ about its live agents (idempotent: a dict update)."""
        reports = {report.name: report for report in ensured.reports}
        calls = {}
        for organ in self.config.organs:
            if reports[organ.id].state != ActorState.ALIVE:
                continue
            agents = {agent_id: ensured.handles[agent_id] for agent_id in organ.agent_ids
                      if reports[agent_id].state == ActorState.ALIVE}
            calls[organ.id] = Call(ensured.handles[organ.id], "register_agents", (agents,))
        waited = self.cluster.call_all(calls, max(1.0, timeout))
        for organ_id in set(waited.errors) | waited.pending:
            err = waited.errors.get(organ_id)
            report = reports[organ_id]
            report.state = ActorState.UNRESPONSIVE
            report.error = ("registering agents failed: " + err.message) if err else (
                "did not answer when registering its agents")

    def status(self, timeout: float) -> OrganismStatus:
        from seedcore_cli.organism import status

        return status.collect(self.connection, self.config, timeout, namespace=self.namespace, cluster=self.cluster)

    # --- teardown ----------------------------------------------------------------------------

    def plan_teardown(self, include_singletons: bool = False, timeout: float = 10.0) -> list[TeardownItem]:
        """The actors teardown would kill: seedcore's own Organ and Agent actors in the namespace
        (and the singletons when asked), each pinned to the actor id it has now.

        Every named actor is probed at once; one of seedcore's classes shows the SeedcoreActor
        marker (or, silent, a driver-mode handle names a seedcore_cli module). A silent actor
        through Ray Client cannot show it and is left alone.
        """
        names = sorted(self.cluster.named_actors(self.namespace))
        handles = {name: self.cluster.lookup(name, self.namespace) for name in names}
        handles = {name: handle for name, handle in handles.items() if handle is not None}
        waited = self.cluster.call_all({name: Call(handle, probe) for name, handle in handles.items()}, timeout)
        ids: dict[str, str] = {}
        for name, handle in handles.items():
            try:
                ids[name] = self.cluster.actor_id(handle)
            except ApiChanged:  # the actor's own answer may still tell; else it is reported
                ids[name] = ""
        items = teardown_items(waited.results, {name: self.cluster.handle_class(h) for name, h in handles.items()},
                               ids, include_singletons)
        for item in items:
            item.handle = handles[item.name]
        return items

    def _holder(self, name: str) -> str:
        """The id of the actor holding `name` now ('' when none)."""
        handle = self.cluster.lookup(name, self.namespace)
        return self.cluster.actor_id(handle) if handle is not None else ""

    def teardown(self, items: list[TeardownItem], wait: float = TEARDOWN_WAIT_S) -> list[TeardownItem]:
        """Kill each planned actor (no restart) if its name still points at it, then confirm each
        one DEAD (State API, by actor id; else the GCS: its name released) before `wait` runs out.

        However long the confirmation took, an actor that took a name since the plan is left
        alone (REPLACED); the planned handle is what is killed, never a fresh look-up. An actor
        whose id could not be read is not killed and not skipped: it is reported (ID_UNKNOWN).
        `raise_if_incomplete(items, wait)` then fails (exit 1) when anything planned is not
        confirmed dead (the caller shows every item first).
        """
        for item in items:
            if not item.actor_id or item.handle is None:
                item.action = ID_UNKNOWN
                continue
            holder = self._holder(item.name)
            if not holder:
                item.action, item.verified = ALREADY_GONE, "GCS: name released"
            elif holder != item.actor_id:
                item.action = REPLACED
            else:
                self.cluster.kill(item.handle)
                item.action = KILLED
        self._confirm_dead([item for item in items if item.killed], wait)
        return items

    def _confirm_dead(self, killed: list[TeardownItem], wait: float) -> None:
        """Poll until every killed actor is DEAD; what is not by the deadline becomes STILL_ALIVE."""
        deadline = time.monotonic() + wait
        pending = {item.actor_id: item for item in killed}
        while pending:
            try:
                rows = self.cluster.state_actors(self.namespace, max(0.5, deadline - time.monotonic()))
            except SeedcoreError:  # the kills are made: confirm them through the GCS instead
                rows = None
            if rows is not None:
                for actor_id in confirmed_dead(pending, rows):
                    pending.pop(actor_id).verified = "State API: DEAD"
            else:  # no State API: the GCS's name table (a dead actor releases its name)
                listed = self.cluster.named_actors(self.namespace)
                for actor_id, item in list(pending.items()):
                    if item.name not in listed or self._holder(item.name) != actor_id:
                        pending.pop(actor_id).verified = "GCS: name released"
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        for item in pending.values():
            item.action = STILL_ALIVE


def raise_if_incomplete(items: list[TeardownItem], wait: float) -> None:
    failed = [item for item in items if item.failed]
    if failed:
        raise TeardownIncomplete(failed, wait)


class TeardownIncomplete(OperationFailed):
    """Some planned actors were not confirmed dead (exit 1); the report still shows every item."""

    def __init__(self, failed: list[TeardownItem], wait: float) -> None:
        alive = sorted(item.name for item in failed if item.action == STILL_ALIVE)
        unknown = sorted(item.name for item in failed if item.action == ID_UNKNOWN)
        parts = ([f"{len(alive)} actor(s) not confirmed dead {wait:g} s after ray.kill: {', '.join(alive)}"]
                 if alive else []) + (
            [f"{len(unknown)} actor(s) not killed because their actor id could not be read: {', '.join(unknown)}"]
            if unknown else [])
        super().__init__("; ".join(parts), "run the teardown again; `seedcore actors list` shows their state")
        self.items = failed
