"""An in-memory `Cluster` (ray_boundary.cluster): the one thing the unit layer fakes.

Actors live in a dict by (namespace, name), each with its class, Ray state, node, restarts and
how it answers calls (`answers`: "ok", "dies", "restarting", "times out", "fails", "races").
Actors created through `create()` hold a real instance of their (plain Python) class, so method
calls such as `register_agents` and `get_status` run for real; probes are answered the way
`actors.probe` would answer inside the actor. The State API gives rows for every actor (DEAD
ones too) unless `state_api` is False (no dashboard: None). No ray is imported.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seedcore_cli.errors import ActorCallFailed, ActorDied, ActorRestarting, CallTimedOut, NameTaken
from seedcore_cli.organism import config
from seedcore_cli.organism.actors import probe, probe_status
from seedcore_cli.organism.inventory import ActorRow
from seedcore_cli.organism.model import NodeInfo, Progress
from seedcore_cli.ray_boundary.cluster import Call, CallResult, K
from seedcore_cli.ray_boundary.ray_compat import ApiChanged

HEAD = "a" * 56
WORKER = "b" * 56
_ids = itertools.count(1)


@dataclass(eq=False)
class FakeActor:
    name: str
    namespace: str
    class_name: str
    module: str = "seedcore_cli.organism.actors"
    state: str = "ALIVE"  # Ray's state: ALIVE, PENDING_CREATION, DEPENDENCIES_UNREADY, RESTARTING, DEAD
    node_id: str = HEAD
    num_restarts: int = 0
    creator: str | None = ""  # None: not a SeedcoreActor
    answers: str = "ok"
    status: dict | None = None  # get_status() when there is no instance
    detached: bool = True
    death_reason: str = ""
    death_cause: str = ""
    required_resources: dict[str, float] = field(default_factory=lambda: {"CPU": 0.01})
    instance: Any = None
    survives_kill: bool = False
    id_unreadable: bool = False
    actor_id: str = field(default_factory=lambda: f"{next(_ids):032x}")

    def probe(self) -> dict:
        return {"class": self.class_name, "node_id": self.node_id, "actor_id": self.actor_id, "pid": 1,
                "creator": self.creator}

    def get_status(self) -> dict | None:
        if self.instance is not None and callable(getattr(self.instance, "get_status", None)):
            return self.instance.get_status()
        return self.status


@dataclass(frozen=True, eq=False)
class FakeHandle:
    actor: FakeActor


class FakeCluster:
    """Implements ray_boundary.cluster.Cluster in memory."""

    def __init__(self, nodes: Mapping[str, NodeInfo] | None = None, state_api: bool = True,
                 client_mode: bool = False, available: Mapping[str, float] | None = None) -> None:
        self.actors: dict[tuple[str, str], FakeActor] = {}
        self.dead: list[FakeActor] = []
        self._nodes = dict(nodes) if nodes is not None else {
            HEAD: NodeInfo(HEAD, "10.0.0.1", True, True, {"CPU": 4.0, "memory": 8e9}),
            WORKER: NodeInfo(WORKER, "10.0.0.2", True, False, {"CPU": 4.0, "memory": 8e9})}
        self.state_api = state_api
        self.client_mode = client_mode  # Ray Client handles carry no class
        self.available = dict(available) if available is not None else {"CPU": 8.0, "memory": 16e9}
        self.races: set[str] = set()  # names whose next create loses the race (to an actor of `race_class`)
        self.race_class: dict[str, str] = {}
        self.created: list[str] = []
        self.killed: list[str] = []
        self.calls: list[tuple[str, str]] = []

    # --- setting the scene ---------------------------------------------------------------

    def add(self, name: str, class_name: str, namespace: str = "ns", **kwargs: Any) -> FakeActor:
        actor = FakeActor(name, namespace, class_name, **kwargs)
        if actor.state == "DEAD":
            self.dead.append(actor)
        else:
            self.actors[(namespace, name)] = actor
        return actor

    def die(self, name: str, namespace: str = "ns", reason: str = "WORKER_DIED", cause: str = "it crashed") -> None:
        actor = self.actors.pop((namespace, name))
        actor.state, actor.death_reason, actor.death_cause = "DEAD", reason, cause
        self.dead.append(actor)

    # --- the Cluster interface -------------------------------------------------------------

    def lookup(self, name: str, namespace: str) -> FakeHandle | None:
        actor = self.actors.get((namespace, name))
        return FakeHandle(actor) if actor is not None else None

    def named_actors(self, namespace: str) -> set[str]:
        return {name for (ns, name) in self.actors if ns == namespace}

    def create(self, cls: type, *, name: str, namespace: str, options: Mapping[str, Any],
               kwargs: Mapping[str, Any]) -> FakeHandle:
        if name in self.races:
            self.races.discard(name)
            self.add(name, self.race_class.get(name, cls.__name__), namespace, creator="another-process",
                     module=cls.__module__)
            raise NameTaken("ValueError: Actor with name already exists")
        existing = self.actors.get((namespace, name))
        if existing is not None:
            return FakeHandle(existing)
        actor = self.add(name, cls.__name__, namespace, module=cls.__module__, creator=kwargs.get("creator", ""),
                         instance=cls(**kwargs), detached=options.get("lifetime") == "detached")
        self.created.append(name)
        return FakeHandle(actor)

    def call_all(self, calls: Mapping[K, Call], timeout: float, progress: Progress | None = None) -> CallResult:
        result = CallResult()
        for key, call in calls.items():
            actor = call.handle.actor
            self.calls.append((actor.name, call.target if isinstance(call.target, str) else call.target.__name__))
            outcome = actor.answers if actor.state != "DEAD" else "dies"
            if outcome == "times out":
                result.pending.add(key)
            elif outcome in ("dies", "restarting", "fails", "races"):
                result.errors[key] = {"dies": ActorDied("RayActorError: The actor died unexpectedly"),
                                      "restarting": ActorRestarting("ActorUnavailableError: restarting"),
                                      "fails": ActorCallFailed("RuntimeError: boom"),
                                      "races": NameTaken("ValueError: already exists")}[outcome]
                if outcome == "races":
                    actor.answers = "ok"
            else:
                result.results[key] = self._answer(actor, call)
            if progress:
                progress(len(result.results) + len(result.errors), len(calls))
        return result

    def _answer(self, actor: FakeActor, call: Call) -> Any:
        if call.target is probe:
            return actor.probe()
        if call.target is probe_status:
            info = actor.probe()
            status = actor.get_status()
            if status is not None:
                info["status"] = status
            return info
        if callable(call.target):
            return call.target(actor.instance, *call.args)
        return getattr(actor.instance, call.target)(*call.args)

    def kill(self, handle: FakeHandle) -> None:
        actor = handle.actor
        self.killed.append(actor.name)
        if not actor.survives_kill:
            self.die(actor.name, actor.namespace, reason="RAY_KILL", cause="it was killed by `ray.kill`")

    def actor_id(self, handle: FakeHandle) -> str:
        if handle.actor.id_unreadable:
            raise ApiChanged("FakeHandle has no _actor_id")
        return handle.actor.actor_id

    def handle_class(self, handle: FakeHandle) -> tuple[str, str] | None:
        return None if self.client_mode else (handle.actor.module, handle.actor.class_name)

    def nodes(self) -> dict[str, NodeInfo]:
        return dict(self._nodes)

    def available_resources(self) -> dict[str, float]:
        return dict(self.available)

    def state_actors(self, namespace: str, timeout: float) -> list[ActorRow] | None:
        if not self.state_api:
            return None
        return [ActorRow(name=a.name, class_name=a.class_name, state=a.state, namespace=a.namespace,
                         node_id=a.node_id, pid=1, actor_id=a.actor_id, job_id="01000000",
                         num_restarts=a.num_restarts, death_cause=a.death_cause or None,
                         death_reason=a.death_reason or None, is_detached=a.detached,
                         required_resources=dict(a.required_resources))
                for a in [*self.actors.values(), *self.dead] if a.namespace == namespace]


__all__ = ["HEAD", "WORKER", "CallTimedOut", "FakeActor", "FakeCluster", "FakeHandle"]


# The organism most tests bootstrap into the fake: one organ with two agents (and the singletons).
NS = "ns"
CONFIG = config.parse("""seedcore:
  organism:
    organ_types:
      - id: organ_a
        type: Utility
        agent_count: 2
""", environ={})
AGENTS = ("organ_a_agent_0", "organ_a_agent_1")
