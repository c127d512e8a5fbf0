"""OrganismManager against the in-memory Cluster: bootstrap (capacity, registration, repair) and
teardown (planning, kills, verification); plus the boundary's pure pieces."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fake_cluster import AGENTS, CONFIG, HEAD, NS, FakeCluster

from seedcore_cli.errors import ActorCallFailed, ActorDied
from seedcore_cli.organism import manager
from seedcore_cli.organism.capacity import InsufficientCapacity
from seedcore_cli.organism.manager import (
    ALREADY_GONE,
    ID_UNKNOWN,
    KILLED,
    REPLACED,
    STILL_ALIVE,
    OrganismManager,
    TeardownIncomplete,
    raise_if_incomplete,
    teardown_items,
)
from seedcore_cli.organism.model import (
    KIND_AGENT,
    KIND_ORGAN,
    KIND_SINGLETON,
    Action,
    ActorState,
    NodeInfo,
    actor_class,
    is_seedcore_actor,
)
from seedcore_cli.ray_boundary.cluster import CallResult, short_error


def make(cluster: FakeCluster) -> OrganismManager:
    return OrganismManager(SimpleNamespace(namespace=NS), CONFIG, cluster=cluster)  # type: ignore[arg-type]


def test_the_manager_needs_a_connection():
    with pytest.raises(TypeError, match="needs the Connection"):
        OrganismManager(None)  # type: ignore[arg-type]


def test_initialize_creates_the_organism_and_registers_the_agents_with_their_organ():
    cluster = FakeCluster()
    result = make(cluster).initialize()
    assert result.ok and result.count(Action.CREATED) == 6
    assert sorted(cluster.actors[(NS, "organ_a")].instance._agents) == list(AGENTS)
    assert ("organ_a", "register_agents") in cluster.calls


def test_singletons_only_creates_the_three_and_registers_nothing():
    cluster = FakeCluster()
    result = make(cluster).initialize(singletons_only=True)
    assert {report.kind for report in result.actors} == {KIND_SINGLETON}
    assert ("organ_a", "register_agents") not in cluster.calls


def test_an_organism_that_does_not_fit_raises_before_creating_anything():
    cluster = FakeCluster(nodes={HEAD: NodeInfo(HEAD, "10.0.0.1", True, True, {"CPU": 0.01})},
                          available={"CPU": 0.01})
    with pytest.raises(InsufficientCapacity, match="does not fit"):
        make(cluster).initialize()
    assert cluster.created == []


def test_a_dry_run_that_does_not_fit_reports_it_and_raises_nothing():
    cluster = FakeCluster(nodes={HEAD: NodeInfo(HEAD, "10.0.0.1", True, True, {"CPU": 0.01})},
                          available={"CPU": 0.01})
    result = make(cluster).initialize(dry_run=True)
    assert not result.ok and result.capacity_plan is not None and not result.capacity_plan.ok
    assert result.count(Action.WOULD_CREATE) == 6 and cluster.created == []


def test_existing_actors_hold_their_resources_already():
    cluster = FakeCluster()
    organism = make(cluster)
    organism.initialize()
    assert organism.plan_capacity(organism.specs()).ok


def test_a_crashed_actor_is_repaired_on_the_next_bootstrap():
    cluster = FakeCluster()
    make(cluster).initialize()
    cluster.die(AGENTS[0], reason="WORKER_DIED", cause="its worker process has died")
    result = make(cluster).initialize()
    report = next(r for r in result.actors if r.name == AGENTS[0])
    assert (report.action, report.previous_death) == (Action.REPAIRED, "its worker process has died")
    assert result.to_dict()["repaired"] == 1 and result.to_dict()["existing"] == 5


def test_an_actor_killed_on_purpose_is_created_not_repaired():
    cluster = FakeCluster()
    organism = make(cluster)
    organism.initialize()
    organism.teardown(organism.plan_teardown(), wait=1)
    assert {r.action for r in organism.initialize().actors if r.kind != KIND_SINGLETON} == {Action.CREATED}


def test_an_organ_that_fails_to_register_its_agents_is_unresponsive():
    cluster = FakeCluster()
    organism = make(cluster)
    organism.initialize()
    calls = cluster.call_all

    def failing(batch, timeout, progress=None):
        if "organ_a" in batch and batch["organ_a"].target == "register_agents":
            return CallResult(errors={"organ_a": ActorCallFailed("AttributeError: no registry")})
        return calls(batch, timeout, progress)

    cluster.call_all = failing  # type: ignore[method-assign]
    report = next(r for r in organism.initialize().actors if r.name == "organ_a")
    assert (report.state, report.error) == (ActorState.UNRESPONSIVE, "registering agents failed: AttributeError: no registry")


def test_an_organ_that_does_not_answer_the_registration_is_unresponsive():
    cluster = FakeCluster()
    organism = make(cluster)
    organism.initialize()
    calls = cluster.call_all

    def silent(batch, timeout, progress=None):
        if any(call.target == "register_agents" for call in batch.values()):
            return CallResult(pending=set(batch))
        return calls(batch, timeout, progress)

    cluster.call_all = silent  # type: ignore[method-assign]
    report = next(r for r in organism.initialize().actors if r.name == "organ_a")
    assert report.error == "did not answer when registering its agents" and not report.ok


# --- teardown --------------------------------------------------------------------------------


def test_plan_teardown_picks_seedcores_organs_and_agents_agents_first():
    cluster = FakeCluster()
    make(cluster).initialize()
    items = make(cluster).plan_teardown()
    assert [(i.name, i.kind) for i in items] == [(AGENTS[0], KIND_AGENT), (AGENTS[1], KIND_AGENT),
                                                 ("organ_a", KIND_ORGAN)]
    assert all(i.actor_id for i in items)


def test_plan_teardown_includes_the_singletons_only_when_asked():
    cluster = FakeCluster()
    make(cluster).initialize()
    kinds = [i.kind for i in make(cluster).plan_teardown(include_singletons=True)]
    assert kinds.count(KIND_SINGLETON) == 3 and kinds[-1] == KIND_SINGLETON


def test_a_foreign_class_named_agent_survives_the_teardown():
    cluster = FakeCluster()
    cluster.add("their_agent", "Agent", module="their_module", creator=None)
    assert make(cluster).plan_teardown() == []


def test_a_silent_seedcore_actor_is_planned_in_driver_mode_but_not_through_ray_client():
    driver = FakeCluster()
    driver.add("organ_a", "Organ", answers="times out")
    assert [i.name for i in make(driver).plan_teardown()] == ["organ_a"]
    client = FakeCluster(client_mode=True)
    client.add("organ_a", "Organ", answers="times out")
    assert make(client).plan_teardown() == []


def test_teardown_kills_and_confirms_through_the_state_api():
    cluster = FakeCluster()
    make(cluster).initialize()
    organism = make(cluster)
    items = organism.teardown(organism.plan_teardown(), wait=1)
    assert {(i.action, i.verified) for i in items} == {(KILLED, "State API: DEAD")}
    assert sorted(cluster.killed) == sorted([*AGENTS, "organ_a"])
    assert cluster.named_actors(NS) == set(manager.singletons.SINGLETONS)


def test_without_the_state_api_teardown_confirms_through_the_gcs():
    cluster = FakeCluster(state_api=False)
    make(cluster).initialize()
    organism = make(cluster)
    items = organism.teardown(organism.plan_teardown(), wait=1)
    assert {i.verified for i in items} == {"GCS: name released"}


def test_an_actor_replaced_since_the_plan_is_left_alone():
    cluster = FakeCluster()
    make(cluster).initialize()
    organism = make(cluster)
    items = organism.plan_teardown()
    cluster.die(AGENTS[0])
    cluster.add(AGENTS[0], "Agent")
    result = {i.name: i.action for i in organism.teardown(items, wait=1)}
    assert result[AGENTS[0]] == REPLACED and AGENTS[0] not in cluster.killed


def test_an_actor_gone_since_the_plan_is_already_gone():
    cluster = FakeCluster()
    make(cluster).initialize()
    organism = make(cluster)
    items = organism.plan_teardown()
    cluster.die(AGENTS[1])
    item = next(i for i in organism.teardown(items, wait=1) if i.name == AGENTS[1])
    assert (item.action, item.verified) == (ALREADY_GONE, "GCS: name released")


def test_an_actor_that_survives_its_kill_fails_the_teardown():
    cluster = FakeCluster()
    make(cluster).initialize()
    cluster.actors[(NS, "organ_a")].survives_kill = True
    organism = make(cluster)
    items = organism.teardown(organism.plan_teardown(), wait=0.3)
    assert next(i for i in items if i.name == "organ_a").action == STILL_ALIVE
    with pytest.raises(TeardownIncomplete, match="not confirmed dead 0.3 s after ray.kill: organ_a"):
        raise_if_incomplete(items, 0.3)


def test_an_actor_whose_id_cannot_be_read_anywhere_is_not_killed_and_reported():
    cluster = FakeCluster()
    cluster.add("organ_a", "Organ", id_unreadable=True, answers="times out")
    organism = make(cluster)
    items = organism.teardown(organism.plan_teardown(), wait=0.3)
    assert [i.action for i in items] == [ID_UNKNOWN] and cluster.killed == []
    with pytest.raises(TeardownIncomplete, match="actor id could not be read: organ_a"):
        raise_if_incomplete(items, 0.3)


def test_an_unreadable_handle_id_falls_back_to_the_actors_own_answer():
    cluster = FakeCluster()
    actor = cluster.add("organ_a", "Organ", id_unreadable=True)
    (item,) = make(cluster).plan_teardown()
    assert item.actor_id == actor.actor_id


def test_teardown_items_is_pure_over_the_answers():
    answers: dict[str, dict] = {"organ_a": {"class": "Organ", "creator": "", "actor_id": "x"},
               "mw": {"class": "MwStore", "creator": ""},
               "foreign": {"class": "Agent", "creator": None}}
    created = {"organ_a": None, "mw": None, "foreign": ("seedcore_cli.organism.actors", "Agent"),
               "silent": ("seedcore_cli.organism.actors", "Agent")}
    items = teardown_items(answers, created, {"silent": "s1"}, include_singletons=True)
    assert [(i.name, i.kind, i.actor_id) for i in items] == [
        ("silent", KIND_AGENT, "s1"), ("organ_a", KIND_ORGAN, "x"), ("mw", KIND_SINGLETON, "")]


def test_a_singleton_name_held_by_another_seedcore_class_is_not_torn_down_as_a_singleton():
    items = teardown_items({"mw": {"class": "MissTracker", "creator": ""}}, {"mw": None}, {}, include_singletons=True)
    assert items == []


def test_confirmed_dead_reads_the_rows_by_actor_id():
    rows = [SimpleNamespace(actor_id="a", state="DEAD"), SimpleNamespace(actor_id="b", state="ALIVE")]
    assert manager.confirmed_dead({"a": None, "b": None, "c": None}, rows) == ["a"]  # type: ignore[arg-type, dict-item]


# --- the boundary's and the model's pure pieces -------------------------------------------------


def test_call_result_merge_replaces_the_outcome_of_retried_keys():
    first = CallResult(results={"a": 1}, errors={"b": ActorDied("x")}, pending={"c"})
    first.merge(CallResult(results={"c": 3}, pending={"b"}))
    assert (first.results, first.errors, first.pending) == ({"a": 1, "c": 3}, {}, {"b"})


def test_short_error_keeps_the_last_line_of_a_remote_traceback():
    err = RuntimeError("Traceback (most recent call last):\n  File \"x.py\", line 1\n    boom()\nValueError: bad \x1b[31mthing\x1b[0m")
    assert short_error(err) == "RuntimeError: ValueError: bad thing"
    assert short_error(KeyError()) == "KeyError"


def test_the_class_comes_from_the_answer_then_the_handle_then_the_row():
    row = SimpleNamespace(class_name="FromState")
    assert actor_class({"class": "Probed"}, ("m", "Handle"), row) == "Probed"
    assert actor_class(None, ("m", "Handle"), row) == "Handle"
    assert actor_class(None, None, row) == "FromState"
    assert actor_class(None, None) is None


def test_the_seedcore_marker_has_the_last_word_over_the_handle():
    assert is_seedcore_actor({"class": "Agent", "creator": ""}, None)
    assert not is_seedcore_actor({"class": "Agent", "creator": None}, ("seedcore_cli.organism.actors", "Agent"))
    assert is_seedcore_actor(None, ("seedcore_cli.organism.actors", "Agent"))
    assert not is_seedcore_actor(None, ("seedcore_cli_other", "Agent")) and not is_seedcore_actor(None, None)


def test_the_fake_is_a_cluster():
    from seedcore_cli.ray_boundary.cluster import Cluster

    cluster: Cluster = FakeCluster()
    assert cluster.named_actors(NS) == set() and ActorState.ALIVE == "ALIVE"
