"""Get or create seedcore's detached named actors, concurrently and race-safe: `ensure(specs, namespace)`.

- `ensure(specs, namespace, *, dry_run, timeout, progress, dead) -> EnsureResult`: a report per spec
  (created / repaired / exists / would create / would repair / conflict, its state and node) and the
  live handles. A name held by another class raises `ActorConflict` before anything is created;
  the create race between several processes is settled by Ray's `get_if_exists`, and a per-call
  creator token tells which process created each actor. An actor created where one had died
  (`dead`, from `deaths(rows)`, or found dead by its probe) is reported `repaired`.
- `deaths(rows)`: names whose last actor died (not killed on purpose), with the cause.
- `conflict_error(conflicts, namespace)`: the ActorConflict for names held by another class.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seedcore_cli.errors import ActorConflict, OperationFailed, fold
from seedcore_cli.organism import actorutil
from seedcore_cli.organism.base import (
    ACTION_CONFLICT,
    ACTION_CREATED,
    ACTION_EXISTS,
    ACTION_REPAIRED,
    ACTION_WOULD_CREATE,
    ACTION_WOULD_REPAIR,
    CREATE_TIMEOUT_S,
    STATE_ALIVE,
    STATE_DEAD,
    STATE_NONE,
    STATE_PENDING,
    STATE_RESTARTING,
    STATE_UNRESPONSIVE,
    ActorReport,
    ActorSpec,
    NodeInfo,
)
from seedcore_cli.organism.options import spec_options

if TYPE_CHECKING:
    from seedcore_cli.organism import inventory

NOT_READY_WAIT_S = 8.0
# Ray's death reason for `ray.kill` (teardown, an operator): removed on purpose, not broken.
KILLED_ON_PURPOSE = "RAY_KILL"


def deaths(rows: Iterable[inventory.ActorRow] | None) -> dict[str, str]:
    """name -> how its actor died, for each name the State API shows only DEAD actors for, one of
    which died (a crash, a lost node, a failed constructor, out of memory) rather than being
    killed on purpose: what a bootstrap re-run repairs. {} when the State API did not answer."""
    rows = list(rows or [])
    live = {row.name for row in rows if row.state != STATE_DEAD}
    found: dict[str, str] = {}
    for row in rows:
        if row.name and row.state == STATE_DEAD and row.name not in live and row.death_reason != KILLED_ON_PURPOSE:
            found.setdefault(row.name, fold(row.death_cause or row.death_reason or "it died", 240))
    return found


def not_ready(rows: list[inventory.ActorRow] | None) -> dict[str, str]:
    """name -> Ray's state, for the namespace's actors Ray has not placed or is restarting."""
    return {row.name: row.state for row in rows or []
            if row.name and row.state in ("PENDING_CREATION", "DEPENDENCIES_UNREADY", "RESTARTING")}


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
           timeout: float = CREATE_TIMEOUT_S, progress: actorutil.Progress | None = None,
           dead: Mapping[str, str] | None = None, not_ready: Mapping[str, str] | None = None) -> EnsureResult:
    """Get or create each spec'd actor (detached, with its spec's options) in `namespace`, concurrently.

    Raises ActorConflict, before creating anything, when a name is held by another class (and
    after creating, if another process won a race with another class). Actors that do not answer
    within `timeout` are reported with state UNRESPONSIVE (or DEAD); the caller decides. `dead`:
    names whose actor had died (name -> how, see `deaths`): created again, they are `repaired`.
    `not_ready`: names whose actor Ray had not placed or was restarting (name -> Ray's state, see
    `not_ready`): reported as such if they do not answer within NOT_READY_WAIT_S (a probe would
    otherwise wait the whole timeout).
    """
    specs = list(specs)
    dead = dict(dead or {})
    deadline = time.monotonic() + timeout
    nodes = actorutil.node_index()
    handles = {spec.name: actorutil.lookup(spec.name, namespace) for spec in specs}
    reports: dict[str, ActorReport] = {}
    conflicts: list[tuple[ActorSpec, str]] = []

    # 1. What already holds each name, and is it what we expect? Every holder is asked; one Ray
    #    had not placed (or was restarting) when the State API looked gets NOT_READY_WAIT_S to
    #    answer (another bootstrap may be creating it this very moment), not the whole timeout.
    not_ready = {name: state for name, state in (not_ready or {}).items() if handles.get(name) is not None}
    existing = [spec for spec in specs if handles[spec.name] is not None]
    refs = {spec.name: handles[spec.name].__ray_call__.remote(actorutil.probe) for spec in existing}
    waited = actorutil.wait_all(refs, min(deadline - time.monotonic(), NOT_READY_WAIT_S) if not_ready
                                else deadline - time.monotonic())
    rest = {name: ref for name, ref in refs.items() if name in waited.pending and name not in not_ready}
    if rest:
        more = actorutil.wait_all(rest, deadline - time.monotonic())
        waited.results.update(more.results)
        waited.errors.update(more.errors)
    for spec in existing:
        if spec.name in not_ready and spec.name in waited.pending:
            restarting = not_ready[spec.name] == "RESTARTING"
            reports[spec.name] = ActorReport(
                spec.name, spec.kind, spec.class_name, ACTION_EXISTS,
                STATE_RESTARTING if restarting else STATE_PENDING,
                error="Ray is restarting it" if restarting else
                f"Ray has not placed it yet ({not_ready[spec.name]}): `seedcore organism status` says why")
    existing = [spec for spec in existing if spec.name not in reports]
    missing = [spec for spec in specs if handles[spec.name] is None]  # (not_ready ones have a handle)
    for spec in existing:
        info = waited.results.get(spec.name)
        found = actorutil.actor_class(info, handles[spec.name])
        if found and found != spec.class_name:
            conflicts.append((spec, found))
            reports[spec.name] = ActorReport(spec.name, spec.kind, found, ACTION_CONFLICT,
                                             STATE_ALIVE if info else STATE_UNRESPONSIVE)
        elif info:
            reports[spec.name] = _report(spec, ACTION_EXISTS, info, nodes)
        elif spec.name in waited.errors and actorutil.is_actor_died(waited.errors[spec.name]):
            missing.append(spec)  # died since the lookup: create it again
            handles[spec.name] = None
            dead.setdefault(spec.name, actorutil.short_error(waited.errors[spec.name]))
        else:
            error = actorutil.short_error(waited.errors[spec.name]) if spec.name in waited.errors else (
                f"did not answer within {timeout:g} s")
            reports[spec.name] = ActorReport(spec.name, spec.kind, spec.class_name, ACTION_EXISTS,
                                             STATE_UNRESPONSIVE, error=error)
    if conflicts and not dry_run:
        raise conflict_error(conflicts, namespace)
    if dry_run:
        for spec in missing:
            action = ACTION_WOULD_REPAIR if spec.name in dead else ACTION_WOULD_CREATE
            reports[spec.name] = ActorReport(spec.name, spec.kind, spec.class_name, action, STATE_NONE,
                                             previous_death=dead.get(spec.name, ""))
        return EnsureResult([reports[spec.name] for spec in specs], handles)

    # 2. Create the missing ones all at once; Ray's get_if_exists settles races between processes.
    token = uuid.uuid4().hex
    remote = {spec.cls: None for spec in missing}
    for cls in remote:
        remote[cls] = actorutil.remote_class(cls)
    refs = {spec.name: _create_and_probe(remote[spec.cls], spec, namespace, token, handles, deadline)
            for spec in missing}
    waited = actorutil.wait_all(refs, deadline - time.monotonic(), progress)
    for spec in missing:  # lost the race only when waiting: take the winner's actor and ask it
        if _lost_race(waited.errors.get(spec.name)):
            handles[spec.name] = _race_winner(spec.name, namespace, deadline)
            retry = actorutil.wait_all({spec.name: handles[spec.name].__ray_call__.remote(actorutil.probe)},
                                       deadline - time.monotonic())
            waited.errors.pop(spec.name, None)
            waited.results.update(retry.results)
            waited.errors.update(retry.errors)
    for spec in missing:
        made = ACTION_REPAIRED if spec.name in dead else ACTION_CREATED
        info = waited.results.get(spec.name)
        if info and info["class"] != spec.class_name:
            conflicts.append((spec, info["class"]))
        elif info:
            action = made if info.get("creator") == token else ACTION_EXISTS
            reports[spec.name] = _report(spec, action, info, nodes)
        else:
            err = waited.errors.get(spec.name)
            died = err is not None and actorutil.is_actor_died(err)
            reports[spec.name] = ActorReport(
                spec.name, spec.kind, spec.class_name, made,
                STATE_DEAD if died else STATE_UNRESPONSIVE,
                error=actorutil.short_error(err) if err else f"not ready within {timeout:g} s")
        report = reports.get(spec.name)
        if report is not None and report.action == ACTION_REPAIRED:
            report.previous_death = dead[spec.name]
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
        return handles[spec.name].__ray_call__.remote(actorutil.probe)
    except ValueError as err:
        if not _lost_race(err):
            raise
        handles[spec.name] = _race_winner(spec.name, namespace, deadline)
        return handles[spec.name].__ray_call__.remote(actorutil.probe)


def _race_winner(name: str, namespace: str, deadline: float) -> Any:
    """The actor another process just created under `name` (it may take a moment to register)."""
    while True:
        handle = actorutil.lookup(name, namespace)
        if handle is not None:
            return handle
        if time.monotonic() >= deadline:
            raise OperationFailed(f"actor {name!r} in namespace {namespace!r} was created by another process "
                                  "at the same moment, then vanished", "run bootstrap again")
        time.sleep(0.1)


def _report(spec: ActorSpec, action: str, info: dict, nodes: dict[str, NodeInfo]) -> ActorReport:
    node_id = info.get("node_id", "")
    return ActorReport(spec.name, spec.kind, info["class"], action, STATE_ALIVE, node_id=node_id,
                       node_ip=actorutil.node_ip(node_id, nodes), node=actorutil.node_label(node_id, nodes),
                       actor_id=info.get("actor_id", ""))
