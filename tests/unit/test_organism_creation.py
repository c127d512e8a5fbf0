"""Bootstrap's get-or-create (organism.creation) against the in-memory Cluster: find, classify,
create, judge. No Ray."""

from __future__ import annotations

import pytest
from fake_cluster import HEAD, FakeCluster

from seedcore_cli.errors import ActorCallFailed, ActorConflict, ActorDied
from seedcore_cli.organism import creation, singletons
from seedcore_cli.organism.actors import Agent, Organ
from seedcore_cli.organism.inventory import ActorRow
from seedcore_cli.organism.model import KIND_AGENT, KIND_ORGAN, Action, ActorSpec, ActorState
from seedcore_cli.ray_boundary.cluster import CallResult

NS = "ns"


def specs() -> list[ActorSpec]:
    return [ActorSpec("organ_a", KIND_ORGAN, Organ, (("organ_id", "organ_a"), ("organ_type", "Utility"))),
            ActorSpec("organ_a_agent_0", KIND_AGENT, Agent,
                      (("agent_id", "organ_a_agent_0"), ("organ_id", "organ_a"), ("organ_type", "Utility")))]


def by_name(result: creation.EnsureResult) -> dict:
    return {report.name: report for report in result.reports}


def row(name: str, state: str = "DEAD", reason: str | None = "WORKER_DIED", cause: str | None = "it crashed") -> ActorRow:
    return ActorRow(name, "Agent", state, NS, "", 0, "id-" + name, "job", death_reason=reason, death_cause=cause)


def test_an_empty_namespace_gets_every_actor_created_alive_with_its_node():
    cluster = FakeCluster()
    reports = by_name(creation.ensure(cluster, specs(), NS))
    assert {r.action for r in reports.values()} == {Action.CREATED}
    assert {r.state for r in reports.values()} == {ActorState.ALIVE}
    assert reports["organ_a"].node_ip == "10.0.0.1" and reports["organ_a"].node.endswith(", head)")
    assert sorted(cluster.created) == ["organ_a", "organ_a_agent_0"]


def test_a_second_run_finds_everything_existing_and_creates_nothing():
    cluster = FakeCluster()
    creation.ensure(cluster, specs(), NS)
    cluster.created.clear()
    reports = by_name(creation.ensure(cluster, specs(), NS))
    assert {r.action for r in reports.values()} == {Action.EXISTS}
    assert cluster.created == []


def test_created_actors_are_detached_and_carry_their_constructor_arguments():
    cluster = FakeCluster()
    result = creation.ensure(cluster, specs(), NS)
    actor = result.handles["organ_a_agent_0"].actor
    assert actor.detached and actor.instance.organ_id == "organ_a" and actor.creator


def test_a_dry_run_reports_would_create_and_creates_nothing():
    cluster = FakeCluster()
    reports = by_name(creation.ensure(cluster, specs(), NS, dry_run=True))
    assert {(r.action, r.state) for r in reports.values()} == {(Action.WOULD_CREATE, ActorState.NONE)}
    assert cluster.created == [] and cluster.named_actors(NS) == set()


def test_a_name_whose_actor_died_is_repaired_with_how_it_died():
    cluster = FakeCluster()
    result = creation.ensure(cluster, specs(), NS, dead={"organ_a": "it crashed"})
    report = by_name(result)["organ_a"]
    assert (report.action, report.previous_death) == (Action.REPAIRED, "it crashed")
    assert by_name(result)["organ_a_agent_0"].action == Action.CREATED


def test_a_dry_run_reports_would_repair_for_a_dead_name():
    report = by_name(creation.ensure(FakeCluster(), specs(), NS, dry_run=True, dead={"organ_a": "oom"}))["organ_a"]
    assert (report.action, report.previous_death) == (Action.WOULD_REPAIR, "oom")


def test_a_name_held_by_another_class_raises_before_anything_is_created():
    cluster = FakeCluster()
    cluster.add("organ_a", "SomethingElse", module="theirs")
    with pytest.raises(ActorConflict, match="is a SomethingElse, expected Organ.*nothing was killed"):
        creation.ensure(cluster, specs(), NS)
    assert cluster.created == []


def test_a_dry_run_reports_the_conflict_without_raising():
    cluster = FakeCluster()
    cluster.add("organ_a", "SomethingElse", module="theirs")
    report = by_name(creation.ensure(cluster, specs(), NS, dry_run=True))["organ_a"]
    assert (report.action, report.class_name, report.state) == (Action.CONFLICT, "SomethingElse", ActorState.ALIVE)
    assert not report.ok


def test_a_holder_that_dies_when_probed_is_created_again_and_reported_repaired():
    cluster = FakeCluster()
    cluster.add("organ_a", "Organ", answers="dies")
    report = by_name(creation.ensure(cluster, specs(), NS))["organ_a"]
    assert report.action == Action.REPAIRED and "RayActorError" in report.previous_death


def test_a_holder_that_does_not_answer_is_reported_unresponsive_not_replaced():
    cluster = FakeCluster()
    cluster.add("organ_a", "Organ", answers="times out")
    report = by_name(creation.ensure(cluster, specs(), NS, timeout=3))["organ_a"]
    assert (report.action, report.state, report.error) == (Action.EXISTS, ActorState.UNRESPONSIVE, "did not answer within 3 s")
    assert "organ_a" not in cluster.created


def test_a_holder_whose_call_fails_is_unresponsive_with_the_error():
    cluster = FakeCluster()
    cluster.add("organ_a", "Organ", answers="fails")
    report = by_name(creation.ensure(cluster, specs(), NS))["organ_a"]
    assert (report.state, report.error) == (ActorState.UNRESPONSIVE, "RuntimeError: boom")


def test_a_holder_ray_has_not_placed_is_reported_pending_not_waited_for():
    cluster = FakeCluster()
    cluster.add("organ_a", "Organ", answers="times out", state="PENDING_CREATION")
    report = by_name(creation.ensure(cluster, specs(), NS, not_ready={"organ_a": "PENDING_CREATION"}))["organ_a"]
    assert report.state == ActorState.PENDING and "PENDING_CREATION" in report.error and report.ok is False


def test_a_holder_ray_is_restarting_is_reported_restarting():
    cluster = FakeCluster()
    cluster.add("organ_a", "Organ", answers="times out", state="RESTARTING")
    report = by_name(creation.ensure(cluster, specs(), NS, not_ready={"organ_a": "RESTARTING"}))["organ_a"]
    assert (report.state, report.error) == (ActorState.RESTARTING, "Ray is restarting it")


def test_a_not_ready_name_that_answers_after_all_is_simply_existing():
    cluster = FakeCluster()
    cluster.add("organ_a", "Organ")
    report = by_name(creation.ensure(cluster, specs(), NS, not_ready={"organ_a": "PENDING_CREATION"}))["organ_a"]
    assert (report.action, report.state) == (Action.EXISTS, ActorState.ALIVE)


def test_a_lost_create_race_takes_the_winners_actor_and_reports_it_existing():
    cluster = FakeCluster()
    cluster.races.add("organ_a")
    report = by_name(creation.ensure(cluster, specs(), NS))["organ_a"]
    assert (report.action, report.state) == (Action.EXISTS, ActorState.ALIVE)


def test_a_lost_create_race_to_another_class_is_a_conflict():
    cluster = FakeCluster()
    cluster.races.add("organ_a")
    cluster.race_class["organ_a"] = "Impostor"
    with pytest.raises(ActorConflict, match="Impostor"):
        creation.ensure(cluster, specs(), NS)


def test_a_race_reported_at_the_first_call_asks_the_winner_again():
    cluster = FakeCluster()
    original = cluster.create

    def create_then_race(cls, **kwargs):
        handle = original(cls, **kwargs)
        handle.actor.answers = "races"
        return handle

    cluster.create = create_then_race  # type: ignore[method-assign]
    reports = by_name(creation.ensure(cluster, specs(), NS))
    assert {r.state for r in reports.values()} == {ActorState.ALIVE}


def test_a_created_actor_that_dies_at_once_is_reported_dead():
    cluster = FakeCluster()
    original = cluster.create

    def create_dying(cls, **kwargs):
        handle = original(cls, **kwargs)
        handle.actor.answers = "dies"
        return handle

    cluster.create = create_dying  # type: ignore[method-assign]
    report = by_name(creation.ensure(cluster, specs(), NS))["organ_a"]
    assert (report.action, report.state) == (Action.CREATED, ActorState.DEAD) and "RayActorError" in report.error


def test_a_created_actor_that_does_not_answer_is_unresponsive():
    cluster = FakeCluster()
    original = cluster.create

    def create_silent(cls, **kwargs):
        handle = original(cls, **kwargs)
        handle.actor.answers = "times out"
        return handle

    cluster.create = create_silent  # type: ignore[method-assign]
    report = by_name(creation.ensure(cluster, specs(), NS, timeout=7))["organ_a"]
    assert (report.state, report.error) == (ActorState.UNRESPONSIVE, "not ready within 7 s")


def test_progress_is_reported_while_creating():
    seen = []
    creation.ensure(FakeCluster(), specs(), NS, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (2, 2)


def test_deaths_skips_kills_on_purpose_and_names_with_a_live_actor():
    rows = [row("a"), row("b", reason="RAY_KILL"), row("c"), row("c", state="ALIVE", reason=None, cause=None),
            row("d", cause=None, reason="OUT_OF_MEMORY")]
    assert creation.deaths(rows) == {"a": "it crashed", "d": "OUT_OF_MEMORY"}
    assert creation.deaths(None) == {}


def test_not_ready_lists_unplaced_and_restarting_actors():
    rows = [row("a", "PENDING_CREATION"), row("b", "DEPENDENCIES_UNREADY"), row("c", "RESTARTING"), row("d", "ALIVE")]
    assert creation.not_ready(rows) == {"a": "PENDING_CREATION", "b": "DEPENDENCIES_UNREADY", "c": "RESTARTING"}


# --- the pure middle: classify, would_create, judge_created ------------------------------------


def test_classify_uses_the_answer_first_then_the_handles_class():
    found = creation.Found(held={"organ_a": ("seedcore_cli.organism.actors", "Organ"), "organ_a_agent_0": None},
                           answers=CallResult(results={"organ_a_agent_0": {"class": "Agent", "node_id": HEAD}},
                                              pending={"organ_a"}))
    plan = creation.classify(specs(), found, {}, timeout=5)
    assert plan.reports["organ_a"].state == ActorState.UNRESPONSIVE and plan.reports["organ_a_agent_0"].state == ActorState.ALIVE
    assert plan.missing == [] and plan.conflicts == []


def test_classify_a_silent_holder_of_another_class_is_an_unresponsive_conflict():
    found = creation.Found(held={"organ_a": ("elsewhere", "Thing")}, answers=CallResult(pending={"organ_a"}))
    plan = creation.classify(specs()[:1], found, {}, timeout=5)
    assert (plan.reports["organ_a"].action, plan.reports["organ_a"].state) == (Action.CONFLICT, ActorState.UNRESPONSIVE)
    assert plan.conflicts[0][1] == "Thing"


def test_classify_sends_dead_holders_and_free_names_to_creation():
    found = creation.Found(held={"organ_a": None},
                           answers=CallResult(errors={"organ_a": ActorDied("RayActorError: gone")}))
    plan = creation.classify(specs(), found, {}, timeout=5)
    assert [spec.name for spec in plan.missing] == ["organ_a_agent_0", "organ_a"]
    assert plan.dead == {"organ_a": "RayActorError: gone"}
    assert {r.action for r in creation.would_create(plan).values()} == {Action.WOULD_CREATE, Action.WOULD_REPAIR}


def test_judge_created_tells_created_from_taken_by_the_creator_token():
    answers = CallResult(results={"organ_a": {"class": "Organ", "creator": "mine", "node_id": HEAD},
                                  "organ_a_agent_0": {"class": "Agent", "creator": "theirs"}})
    reports, conflicts = creation.judge_created(specs(), answers, "mine", {}, FakeCluster().nodes(), 5)
    assert (reports["organ_a"].action, reports["organ_a_agent_0"].action) == (Action.CREATED, Action.EXISTS)
    assert conflicts == []


def test_judge_created_reports_failures_and_repairs():
    answers = CallResult(errors={"organ_a": ActorCallFailed("RuntimeError: boom")}, pending={"organ_a_agent_0"})
    reports, _ = creation.judge_created(specs(), answers, "mine", {"organ_a": "oom"}, {}, 5)
    assert (reports["organ_a"].action, reports["organ_a"].state, reports["organ_a"].previous_death) == (
        Action.REPAIRED, ActorState.UNRESPONSIVE, "oom")
    assert reports["organ_a_agent_0"].error == "not ready within 5 s"


# --- singletons ---------------------------------------------------------------------------------


class Conn:
    namespace = NS


def test_singletons_ensure_creates_the_three_with_their_classes():
    cluster = FakeCluster()
    reports = singletons.ensure(Conn(), cluster=cluster)  # type: ignore[arg-type]
    assert {(r.name, r.class_name, r.action) for r in reports} == {
        (name, cls, Action.CREATED) for name, cls in singletons.SINGLETONS.items()}
    assert cluster.actors[(NS, "mw")].instance.max_items == singletons.MW_MAX_ITEMS


def test_singletons_ensure_is_idempotent_and_honours_dry_run():
    cluster = FakeCluster()
    assert {r.action for r in singletons.ensure(Conn(), dry_run=True, cluster=cluster)} == {Action.WOULD_CREATE}  # type: ignore[arg-type]
    singletons.ensure(Conn(), cluster=cluster)  # type: ignore[arg-type]
    assert {r.action for r in singletons.ensure(Conn(), cluster=cluster)} == {Action.EXISTS}  # type: ignore[arg-type]


def test_singletons_ensure_refuses_a_name_held_by_another_class():
    cluster = FakeCluster()
    cluster.add("mw", "MissTracker", module="seedcore_cli.organism.singletons")
    with pytest.raises(ActorConflict, match="'mw'.*is a MissTracker, expected MwStore"):
        singletons.ensure(Conn(), cluster=cluster)  # type: ignore[arg-type]
