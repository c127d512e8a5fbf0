"""The code that runs inside the actors, on the cluster: the SeedcoreActor base and its marker,
the probe, and the Organ and Agent classes (plain classes; `ray.remote` wraps them at creation
time, in the Ray boundary).

This is the one module of organism/ that uses ray, and only inside methods that run in an actor
(the actor process has ray loaded anyway), so importing it (as `singletons`, `config` and the CLI
do, through the classes) never imports ray. The classes travel by value (connect() registers
seedcore_cli with Ray's pickler): the cluster needs nothing of seedcore installed.

- `SeedcoreActor`: base of seedcore's actor classes; its `_seedcore_creator` attribute is the
  marker `probe()` reports as `creator` (None for any other class: `model.is_seedcore`).
- `probe(instance)` / `probe_status(instance)`: run inside any actor through `__ray_call__`.

Agent (`{organ_id}_agent_{i}`, or `{organ_id}_{specialization}_{i}` from SeedCore's config
format): SeedCore-like state (its specialization, role probabilities by organ type, capability,
mem_util, tasks processed, and when it last finished a task); `execute_task(task)` does a small
real piece of work (a hash chain over the task) and updates that state;
`get_status()` reports it, with `idle_s`: seconds since the last task (or since it started).
No background thread refreshes anything: an agent stuck in a call simply does not answer, which
`organism status` reports as unresponsive.

Organ (named by its config id): holds its agents' handles (`register_agents`), answers
`get_status()` (organ_id, organ_type, agent ids, agent count) and runs a task on one of its agents
(`run_task`, round-robin unless an agent is named). It is created with its agents' names and
namespace: when Ray restarts it (a lost node, a crash; its constructor runs again and the
registry is empty), it finds each agent again by name (`ray.get_actor`) at its next call, so
`organism status` shows it healthy with its agents without a bootstrap. Not in the constructor:
a restart must not wait on agents that are themselves restarting or gone.

Both are synchronous actors with one thread for calls: a call stuck in an actor makes its later
calls wait, which is what `organism status` reports as unresponsive.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import deque
from typing import Any

from seedcore_cli.organism.config import ROLE_PROBS

MEMORY_SLOTS = 64  # the agent keeps its last results; mem_util is how full that memory is
MAX_WORK_ROUNDS = 200_000
DEFAULT_TASK_TIMEOUT_S = 60.0


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


class Agent(SeedcoreActor):
    """One SeedCore agent."""

    def __init__(self, agent_id: str, organ_id: str, organ_type: str, specialization: str | None = None,
                 creator: str = "") -> None:
        super().__init__(creator)
        self.agent_id = agent_id
        self.organ_id = organ_id
        self.organ_type = organ_type
        self.specialization = specialization  # its role in SeedCore's format; None otherwise
        self.role_probs = dict(ROLE_PROBS.get(organ_type, {"E": 1 / 3, "S": 1 / 3, "O": 1 / 3}))
        self.capability = 0.5
        self.tasks_processed = 0
        self.tasks_failed = 0
        self.created_at = time.time()
        self.last_active = self.created_at
        self._memory: deque[dict] = deque(maxlen=MEMORY_SLOTS)
        self._lock = threading.Lock()

    @property
    def mem_util(self) -> float:
        return round(len(self._memory) / MEMORY_SLOTS, 4)

    def execute_task(self, task: Any) -> dict:
        """Hash the task `rounds` times (default 1000): a small, real, deterministic computation."""
        started = time.perf_counter()
        spec = task if isinstance(task, dict) else {"payload": task}
        try:
            rounds = int(spec.get("rounds", 1000))
            if not 1 <= rounds <= MAX_WORK_ROUNDS:
                raise ValueError(f"rounds must be between 1 and {MAX_WORK_ROUNDS}")
            digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).digest()
            for _ in range(rounds):
                digest = hashlib.sha256(digest).digest()
        except (TypeError, ValueError) as err:
            with self._lock:
                self.tasks_failed += 1
                self.capability = round(0.9 * self.capability, 4)
                self.last_active = time.time()
            return {"agent_id": self.agent_id, "ok": False, "error": str(err)}
        result = {
            "agent_id": self.agent_id,
            "organ_id": self.organ_id,
            "ok": True,
            "task_type": spec.get("type", "general_query"),
            "result": digest.hex(),
            "rounds": rounds,
            "seconds": round(time.perf_counter() - started, 6),
        }
        with self._lock:
            self.tasks_processed += 1
            self.capability = round(min(1.0, 0.9 * self.capability + 0.1), 4)
            self._memory.append({"task_type": result["task_type"], "result": result["result"][:16]})
            self.last_active = time.time()
        return result

    def get_status(self) -> dict:
        now = time.time()
        return {
            "agent_id": self.agent_id,
            "organ_id": self.organ_id,
            "organ_type": self.organ_type,
            "specialization": self.specialization,
            "role_probs": dict(self.role_probs),
            "capability": self.capability,
            "mem_util": self.mem_util,
            "tasks_processed": self.tasks_processed,
            "tasks_failed": self.tasks_failed,
            "last_active": self.last_active,
            "idle_s": round(max(0.0, now - self.last_active), 3),
            "uptime_s": round(now - self.created_at, 3),
        }


class Organ(SeedcoreActor):
    """One SeedCore organ: a named group of agents of one type."""

    def __init__(self, organ_id: str, organ_type: str, description: str = "",
                 task_types: tuple[str, ...] = (), agent_ids: tuple[str, ...] = (),
                 namespace: str | None = None, creator: str = "") -> None:
        super().__init__(creator)
        self.organ_id = organ_id
        self.organ_type = organ_type
        self.description = description
        self.task_types = list(task_types)
        self.agent_ids = tuple(agent_ids)  # its agents' names: how it finds them after a restart
        self.namespace = namespace
        self.created_at = time.time()
        self._agents: dict[str, Any] = {}
        self._next = 0

    def register_agents(self, agents: dict[str, Any]) -> list[str]:
        """Add or replace agent handles by id (idempotent); returns the registered ids."""
        self._agents.update(agents)
        return sorted(self._agents)

    def _find_agents(self) -> None:
        """Look up by name each of its agents it holds no handle for (all of them after a restart).
        One GCS look-up per agent still missing; none once all are found."""
        import ray  # inside the actor

        for agent_id in self.agent_ids:
            if agent_id not in self._agents:
                try:
                    self._agents[agent_id] = ray.get_actor(
                        agent_id, namespace=self.namespace or ray.get_runtime_context().namespace)
                except ValueError:  # gone (or not created yet): bootstrap creates and registers it
                    pass

    def get_status(self) -> dict:
        self._find_agents()
        return {
            "organ_id": self.organ_id,
            "organ_type": self.organ_type,
            "description": self.description,
            "task_types": list(self.task_types),
            "agent_ids": sorted(self._agents),
            "agent_count": len(self._agents),
            "uptime_s": round(time.time() - self.created_at, 3),
        }

    def run_task(self, task: Any, agent_id: str | None = None,
                 timeout: float = DEFAULT_TASK_TIMEOUT_S) -> dict:
        """Run `task` on the named agent, or on the next one in turn; wait at most `timeout`."""
        self._find_agents()
        if not self._agents:
            raise RuntimeError(f"organ {self.organ_id!r} has no registered agents")
        if agent_id is None:
            ids = sorted(self._agents)
            agent_id = ids[self._next % len(ids)]
            self._next += 1
        elif agent_id not in self._agents:
            raise KeyError(f"agent {agent_id!r} is not registered with organ {self.organ_id!r}")
        import ray  # inside the actor

        try:
            return ray.get(self._agents[agent_id].execute_task.remote(task), timeout=timeout)
        except ray.exceptions.RayActorError:
            self._agents.pop(agent_id, None)  # that actor is gone: look the name up again next time
            raise
