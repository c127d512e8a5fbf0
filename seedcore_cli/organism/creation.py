"""Get or create seedcore's detached named actors, concurrently and race-safe.

Three steps, the middle one pure: `find` asks the Cluster what holds each spec'd name (one probe
per holder, one deadline) and returns a `Found` snapshot; `classify` decides from that snapshot
alone what each name needs (exists, pending, restarting, unresponsive, conflict, or missing:
to create, or to repair when its actor had died); `ensure` then creates the missing ones at once
and `judge_created` reads their first answers.

Invariants: a name held by another class raises `ActorConflict` before anything is created (and
after creating, if another process won a race with another class); nothing is ever killed or
replaced here. The create race between processes is settled by Ray's get_if_exists plus a
per-call creator token (the actor's probe tells which process created it); a lost race (the
boundary's `NameTaken`) takes the winner's actor, reported `exists`. An actor created where one
had died is reported `repaired`, with how the old one died.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from seedcore_cli.errors import ActorConflict, ActorDied, NameTaken, OperationFailed, fold
from seedcore_cli.organism.actors import probe
from seedcore_cli.organism.model import (
    CREATE_TIMEOUT_S,
    Action,
    ActorReport,
    ActorSpec,
    ActorState,
    CreatedFrom,
    NodeInfo,
    Progress,
    RayActorState,
    actor_class,
    node_ip,
    node_label,
)
from seedcore_cli.organism.options import spec_options
from seedcore_cli.ray_boundary.cluster import Call, CallResult, Cluster

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
    live = {row.name for row in rows if row.state != RayActorState.DEAD}
    found: dict[str, str] = {}
    for row in rows:
        if row.name and row.state == RayActorState.DEAD and row.name not in live and row.death_reason != KILLED_ON_PURPOSE:
            found.setdefault(row.name, fold(row.death_cause or row.death_reason or "it died", 240))
    return found


def not_ready(rows: list[inventory.ActorRow] | None) -> dict[str, str]:
    """name -> Ray's state, for the namespace's actors Ray has not placed or is restarting."""
    waiting = (RayActorState.PENDING_CREATION, RayActorState.DEPENDENCIES_UNREADY, RayActorState.RESTARTING)
    return {row.name: row.state for row in rows or [] if row.name and row.state in waiting}


@dataclass
class EnsureResult:
    """ensure()'s answer: a report per spec (in spec order) and the live handles by name."""

    reports: list[ActorReport]
    handles: dict[str, Any]


@dataclass
class Found:
    """What held each spec'd name before anything was created: find()'s snapshot, no handles."""

    held: dict[str, CreatedFrom]  # names a live actor holds -> its handle's class (None: Ray Client)
    answers: CallResult = field(default_factory=CallResult)  # the holders' probe answers
    not_ready: dict[str, str] = field(default_factory=dict)  # held names Ray had not placed / restarts
    nodes: dict[str, NodeInfo] = field(default_factory=dict)


@dataclass
class Plan:
    """classify()'s answer: reports for the names held, the conflicts, what to create, what died."""

    reports: dict[str, ActorReport]
    conflicts: list[tuple[ActorSpec, str]]
    missing: list[ActorSpec]
    dead: dict[str, str]


def conflict_error(conflicts: list[tuple[ActorSpec, str]], namespace: str) -> ActorConflict:
    parts = [f"actor {spec.name!r} in namespace {namespace!r} is a {found}, expected {spec.class_name}"
             for spec, found in conflicts]
    return ActorConflict(
        "; ".join(parts) + "; nothing was killed or replaced",
        "use another namespace, or remove that actor yourself if it is not needed",
    )


def find(cluster: Cluster, specs: list[ActorSpec], namespace: str, not_ready: Mapping[str, str],
         deadline: float) -> tuple[Found, dict[str, Any]]:
    """Look up every name and probe every holder at once. A holder Ray had not placed (or was
    restarting) when the State API looked gets NOT_READY_WAIT_S to answer (another bootstrap may
    be creating it this very moment), not the whole timeout; the others get the deadline."""
    nodes = cluster.nodes()
    looked = {spec.name: cluster.lookup(spec.name, namespace) for spec in specs}
    handles = {name: handle for name, handle in looked.items() if handle is not None}
    waiting = {name: state for name, state in not_ready.items() if name in handles}
    calls = {name: Call(handle, probe) for name, handle in handles.items()}
    answers = cluster.call_all(calls, min(deadline - time.monotonic(), NOT_READY_WAIT_S) if waiting
                               else deadline - time.monotonic())
    rest = {name: calls[name] for name in answers.pending if name not in waiting}
    if rest:
        answers.merge(cluster.call_all(rest, deadline - time.monotonic()))
    held = {name: cluster.handle_class(handle) for name, handle in handles.items()}
    return Found(held, answers, waiting, nodes), handles


def _holder_report(spec: ActorSpec, found: Found, timeout: float) -> ActorReport | None:
    """The report for a name a live actor held; None when that actor has died since (create it)."""
    name, answers = spec.name, found.answers
    if name in found.not_ready and name in answers.pending:
        restarting = found.not_ready[name] == RayActorState.RESTARTING
        return ActorReport(name, spec.kind, spec.class_name, Action.EXISTS,
                           ActorState.RESTARTING if restarting else ActorState.PENDING,
                           error="Ray is restarting it" if restarting else
                           f"Ray has not placed it yet ({found.not_ready[name]}): `seedcore organism status` says why")
    info = answers.results.get(name)
    cls = actor_class(info, found.held.get(name))
    if cls and cls != spec.class_name:
        return ActorReport(name, spec.kind, cls, Action.CONFLICT, ActorState.ALIVE if info else ActorState.UNRESPONSIVE)
    if info:
        return _report(spec, Action.EXISTS, info, found.nodes)
    err = answers.errors.get(name)
    if isinstance(err, ActorDied):
        return None
    return ActorReport(name, spec.kind, spec.class_name, Action.EXISTS, ActorState.UNRESPONSIVE,
                       error=err.message if err is not None else f"did not answer within {timeout:g} s")


def classify(specs: Iterable[ActorSpec], found: Found, dead: Mapping[str, str], timeout: float) -> Plan:
    """What each spec'd name needs, from the snapshot alone (pure). `dead`: names whose actor had
    died (see `deaths`); a holder found dead by its probe joins them, to be created again."""
    specs = list(specs)
    plan = Plan({}, [], [spec for spec in specs if spec.name not in found.held], dict(dead))
    for spec in specs:
        if spec.name not in found.held:
            continue
        report = _holder_report(spec, found, timeout)
        if report is None:  # died since the lookup: create it again
            plan.missing.append(spec)
            err = found.answers.errors[spec.name]
            plan.dead.setdefault(spec.name, err.message)
            continue
        if report.action == Action.CONFLICT:
            plan.conflicts.append((spec, report.class_name))
        plan.reports[spec.name] = report
    return plan


def would_create(plan: Plan) -> dict[str, ActorReport]:
    """A dry run's reports for the names to create (or repair)."""
    return {spec.name: ActorReport(spec.name, spec.kind, spec.class_name,
                                   Action.WOULD_REPAIR if spec.name in plan.dead else Action.WOULD_CREATE,
                                   ActorState.NONE, previous_death=plan.dead.get(spec.name, ""))
            for spec in plan.missing}


def judge_created(missing: list[ActorSpec], answers: CallResult, token: str, dead: Mapping[str, str],
                  nodes: Mapping[str, NodeInfo], timeout: float
                  ) -> tuple[dict[str, ActorReport], list[tuple[ActorSpec, str]]]:
    """Reports for the actors just created, from their first answers (pure): created (or repaired)
    when the answer carries this call's `token`, exists when another process won the race."""
    reports: dict[str, ActorReport] = {}
    conflicts: list[tuple[ActorSpec, str]] = []
    for spec in missing:
        made = Action.REPAIRED if spec.name in dead else Action.CREATED
        info = answers.results.get(spec.name)
        if info and info["class"] != spec.class_name:
            conflicts.append((spec, info["class"]))
            continue
        if info:
            reports[spec.name] = _report(spec, made if info.get("creator") == token else Action.EXISTS, info, nodes)
        else:
            err = answers.errors.get(spec.name)
            reports[spec.name] = ActorReport(
                spec.name, spec.kind, spec.class_name, made,
                ActorState.DEAD if isinstance(err, ActorDied) else ActorState.UNRESPONSIVE,
                error=err.message if err is not None else f"not ready within {timeout:g} s")
        if reports[spec.name].action == Action.REPAIRED:
            reports[spec.name].previous_death = dead[spec.name]
    return reports, conflicts


def ensure(cluster: Cluster, specs: Iterable[ActorSpec], namespace: str, *, dry_run: bool = False,
           timeout: float = CREATE_TIMEOUT_S, progress: Progress | None = None,
           dead: Mapping[str, str] | None = None, not_ready: Mapping[str, str] | None = None) -> EnsureResult:
    """Get or create each spec'd actor (detached, with its spec's options) in `namespace`, concurrently.

    Actors that do not answer within `timeout` are reported UNRESPONSIVE (or DEAD); the caller
    decides. `dead`: names whose actor had died (name -> how, see `deaths`). `not_ready`: names
    whose actor Ray had not placed or was restarting (name -> Ray's state, see `not_ready`):
    reported as such if they do not answer within NOT_READY_WAIT_S.
    """
    specs = list(specs)
    deadline = time.monotonic() + timeout
    found, handles = find(cluster, specs, namespace, dict(not_ready or {}), deadline)
    plan = classify(specs, found, dict(dead or {}), timeout)
    if plan.conflicts and not dry_run:
        raise conflict_error(plan.conflicts, namespace)
    if dry_run:
        plan.reports.update(would_create(plan))
        return EnsureResult([plan.reports[spec.name] for spec in specs], handles)
    token = uuid.uuid4().hex
    answers, made = _create(cluster, plan.missing, namespace, token, deadline, progress)
    handles.update(made)
    reports, conflicts = judge_created(plan.missing, answers, token, plan.dead, found.nodes, timeout)
    if conflicts:
        raise conflict_error(conflicts, namespace)
    plan.reports.update(reports)
    return EnsureResult([plan.reports[spec.name] for spec in specs], handles)


def _create(cluster: Cluster, missing: list[ActorSpec], namespace: str, token: str, deadline: float,
            progress: Progress | None) -> tuple[CallResult, dict[str, Any]]:
    """Create the missing actors all at once (get_if_exists) and probe each; a lost race (at the
    create, or at the first call through Ray Client) takes the winner's actor and asks it."""
    handles: dict[str, Any] = {}
    for spec in missing:
        try:
            handles[spec.name] = cluster.create(spec.cls, name=spec.name, namespace=namespace,
                                                options=spec_options(spec).to_ray_options(),
                                                kwargs={"creator": token, **dict(spec.kwargs)})
        except NameTaken:
            handles[spec.name] = _race_winner(cluster, spec.name, namespace, deadline)
    answers = cluster.call_all({name: Call(handle, probe) for name, handle in handles.items()},
                               deadline - time.monotonic(), progress)
    for spec in missing:
        if isinstance(answers.errors.get(spec.name), NameTaken):
            handles[spec.name] = _race_winner(cluster, spec.name, namespace, deadline)
            answers.merge(cluster.call_all({spec.name: Call(handles[spec.name], probe)}, deadline - time.monotonic()))
    return answers, handles


def _race_winner(cluster: Cluster, name: str, namespace: str, deadline: float) -> Any:
    """The actor another process just created under `name` (it may take a moment to register)."""
    while True:
        handle = cluster.lookup(name, namespace)
        if handle is not None:
            return handle
        if time.monotonic() >= deadline:
            raise OperationFailed(f"actor {name!r} in namespace {namespace!r} was created by another process "
                                  "at the same moment, then vanished", "run bootstrap again")
        time.sleep(0.1)


def _report(spec: ActorSpec, action: Action, info: dict, nodes: Mapping[str, NodeInfo]) -> ActorReport:
    node_id = info.get("node_id", "")
    return ActorReport(spec.name, spec.kind, info["class"], action, ActorState.ALIVE, node_id=node_id,
                       node_ip=node_ip(node_id, nodes), node=node_label(node_id, nodes),
                       actor_id=info.get("actor_id", ""))
