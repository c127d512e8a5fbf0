"""The one health model (organism.status: gather then judge) against the in-memory Cluster."""

from __future__ import annotations

from types import SimpleNamespace

from fake_cluster import AGENTS, CONFIG, HEAD, NS, WORKER, FakeCluster

from seedcore_cli.organism import status
from seedcore_cli.organism.inventory import ActorRow
from seedcore_cli.organism.manager import OrganismManager
from seedcore_cli.organism.model import Health, NodeInfo


def conn():
    return SimpleNamespace(namespace=NS)


def bootstrapped(**cluster_args) -> FakeCluster:
    cluster = FakeCluster(**cluster_args)
    OrganismManager(conn(), CONFIG, cluster=cluster).initialize()
    return cluster


def collect(cluster: FakeCluster, organs: bool = True) -> status.OrganismStatus:
    return status.collect(conn(), CONFIG, timeout=2, organs=organs, cluster=cluster)


def organ(result: status.OrganismStatus, organ_id: str = "organ_a") -> status.OrganStatus:
    return next(o for o in result.organs if o.organ_id == organ_id)


def agent(result: status.OrganismStatus, agent_id: str) -> status.AgentStatus:
    return next(a for o in result.organs for a in o.agents if a.agent_id == agent_id)


def singleton(result: status.OrganismStatus, name: str) -> status.SingletonStatus:
    return next(s for s in result.singletons if s.name == name)


def test_a_bootstrapped_organism_is_healthy():
    result = collect(bootstrapped())
    assert result.healthy and result.problems() == [] and result.state_api
    assert organ(result).agents_alive == 2 and organ(result).agents_expected == 2
    assert {s.state for s in result.singletons} == {Health.HEALTHY}


def test_an_empty_namespace_is_missing_everything():
    result = collect(FakeCluster())
    assert not result.healthy
    assert organ(result).state == Health.MISSING and {a.state for a in organ(result).agents} == {Health.MISSING}
    assert {s.state for s in result.singletons} == {Health.MISSING}


def test_an_agent_that_does_not_answer_degrades_its_organ():
    cluster = bootstrapped()
    cluster.actors[(NS, AGENTS[0])].answers = "times out"
    result = collect(cluster)
    assert agent(result, AGENTS[0]).state == Health.UNRESPONSIVE
    assert agent(result, AGENTS[0]).error == "no answer within 2 s"
    assert organ(result).state == Health.DEGRADED and not result.healthy
    assert [(p.kind, p.name) for p in result.problems()] == [("organ", "organ_a"), ("agent", AGENTS[0])]


def test_a_failing_status_call_is_unresponsive_with_the_error():
    cluster = bootstrapped()
    cluster.actors[(NS, AGENTS[1])].answers = "fails"
    assert agent(collect(cluster), AGENTS[1]).error == "RuntimeError: boom"


def test_a_dead_agent_shows_the_state_apis_cause():
    cluster = bootstrapped()
    cluster.die(AGENTS[0], cause="The actor is dead because its worker process has died.")
    item = agent(collect(cluster), AGENTS[0])
    assert (item.state, item.error) == (Health.DEAD, "its worker process has died")


def test_without_the_state_api_an_agent_its_organ_remembers_is_dead():
    cluster = bootstrapped(state_api=False)
    cluster.die(AGENTS[0])
    result = collect(cluster)
    assert not result.state_api
    assert (agent(result, AGENTS[0]).state, agent(result, AGENTS[0]).error) == (
        Health.DEAD, "registered with its organ, but gone")


def test_an_organ_that_forgot_a_healthy_agent_is_degraded():
    cluster = bootstrapped()
    registry = cluster.actors[(NS, "organ_a")].instance
    registry._agents.pop(AGENTS[1])
    registry.agent_ids = (AGENTS[0],)  # so it does not find it again by name
    result = collect(cluster)
    assert organ(result).state == Health.DEGRADED and AGENTS[1] in organ(result).error
    assert "run bootstrap again" in organ(result).error


def test_an_actor_ray_has_not_placed_is_pending_with_the_reason():
    cluster = bootstrapped()
    cluster.actors[(NS, AGENTS[0])].state = "PENDING_CREATION"
    cluster.actors[(NS, AGENTS[0])].required_resources = {"CPU": 64.0}
    item = agent(collect(cluster), AGENTS[0])
    assert item.state == Health.PENDING and "infeasible" in item.error
    assert ("organ_a_agent_0", "probe_status") not in cluster.calls[-10:]  # not asked


def test_an_actor_waiting_for_its_dependencies_is_pending_for_that_reason():
    cluster = bootstrapped()
    cluster.actors[(NS, AGENTS[0])].state = "DEPENDENCIES_UNREADY"
    assert "dependencies" in agent(collect(cluster), AGENTS[0]).error


def test_an_actor_ray_is_restarting_is_restarting_and_says_its_node_is_gone():
    cluster = bootstrapped()
    actor = cluster.actors[(NS, AGENTS[0])]
    actor.state, actor.node_id, actor.num_restarts = "RESTARTING", "c" * 56, 2
    item = agent(collect(cluster), AGENTS[0])
    assert item.state == Health.RESTARTING
    assert item.error == f"Ray is restarting it (restarts so far: 2; its node {'c' * 8} is gone)"
    assert item.num_restarts == 2 and item.ray_state == "RESTARTING"


def test_an_actor_that_starts_restarting_during_the_call_is_restarting():
    cluster = bootstrapped()
    cluster.actors[(NS, AGENTS[0])].answers = "restarting"
    assert agent(collect(cluster), AGENTS[0]).state == Health.RESTARTING


def test_an_actor_that_dies_during_the_call_is_dead():
    cluster = bootstrapped()
    cluster.actors[(NS, AGENTS[0])].answers = "dies"
    item = agent(collect(cluster), AGENTS[0])
    assert (item.state, item.error) == (Health.DEAD, "died")


def test_a_foreign_class_under_the_organs_name_is_a_conflict():
    cluster = FakeCluster()
    cluster.add("organ_a", "NotAnOrgan", module="theirs", creator=None)
    item = organ(collect(cluster))
    assert (item.state, item.error) == (Health.CONFLICT, "held by a NotAnOrgan, expected Organ")


def test_an_unplaced_actor_of_a_foreign_class_is_a_conflict_from_the_state_api():
    cluster = FakeCluster()
    cluster.add("mw", "Impostor", state="PENDING_CREATION", answers="times out")
    assert singleton(collect(cluster), "mw").state == Health.CONFLICT


def test_a_singleton_that_is_not_detached_is_flagged():
    cluster = bootstrapped()
    cluster.actors[(NS, "miss_tracker")].detached = False
    item = singleton(collect(cluster), "miss_tracker")
    assert (item.state, item.detached) == (Health.NOT_DETACHED, False) and not collect(cluster).healthy


def test_healthy_singletons_carry_a_ping_time_and_detached_is_unknown_without_the_state_api():
    result = collect(bootstrapped(state_api=False))
    assert all(s.ping_ms is not None and s.detached is None for s in result.singletons)


def test_an_organ_outside_the_config_is_listed_extra_and_does_not_count():
    cluster = bootstrapped()
    cluster.add("organ_z", "Organ", status={"organ_type": "X", "agent_ids": []})
    cluster.add("unrelated", "Thing", module="theirs", creator=None)
    result = collect(cluster)
    extra = organ(result, "organ_z")
    assert extra.extra and extra.organ_type == "X" and result.healthy
    assert [o.organ_id for o in result.expected_organs] == ["organ_a"]
    assert "unrelated" not in {o.organ_id for o in result.organs}


def test_the_nodes_list_the_organisms_actors_where_they_run():
    cluster = bootstrapped()
    cluster.actors[(NS, AGENTS[1])].node_id = WORKER
    loads = {load.node_id: load for load in collect(cluster).nodes}
    assert AGENTS[1] in loads[WORKER].actors and "organ_a" in loads[HEAD].actors
    assert AGENTS[1] not in loads[HEAD].actors


def test_missing_and_dead_actors_are_on_no_node():
    cluster = bootstrapped()
    cluster.die(AGENTS[0])
    placed = {name for load in collect(cluster).nodes for name in load.actors}
    assert AGENTS[0] not in placed


def test_singletons_only_looks_at_no_organ():
    cluster = bootstrapped()
    result = collect(cluster, organs=False)
    assert result.organs == [] and result.healthy


def test_without_the_state_api_a_silent_actor_is_unresponsive_not_pending():
    cluster = bootstrapped(state_api=False)
    cluster.actors[(NS, AGENTS[0])].answers = "times out"
    assert agent(collect(cluster), AGENTS[0]).state == Health.UNRESPONSIVE


def test_the_status_dict_has_its_problems_and_health():
    cluster = bootstrapped()
    cluster.die("mw")
    data = collect(cluster).to_dict()
    assert data["healthy"] is False and data["namespace"] == NS
    assert data["problems"] == [{"kind": "singleton", "name": "mw", "state": Health.DEAD, "detail": "it crashed"}]


def test_judge_is_pure_over_a_hand_made_snapshot():
    nodes = {HEAD: NodeInfo(HEAD, "10.0.0.1", True, True, {"CPU": 1.0})}
    answers = status.CallResult(results={"organ_a": {"class": "Organ", "node_id": HEAD,
                                                     "status": {"agent_ids": list(AGENTS)}}},
                                pending={AGENTS[0]})
    snapshot = status.Snapshot(NS, 2.0, {"organ_a", *AGENTS}, nodes, None,
                               asked={"organ_a": None, AGENTS[0]: None}, answers=answers)
    result = status.judge(snapshot, CONFIG)
    assert organ(result).state == Health.DEGRADED
    assert agent(result, AGENTS[0]).state == Health.UNRESPONSIVE
    assert agent(result, AGENTS[1]).state == Health.DEAD  # its organ remembers it; nobody answered for it
    assert organ(result).node_ip == "10.0.0.1"


def test_the_pending_reason_uses_the_snapshots_offer():
    row = ActorRow("organ_a", "Organ", "PENDING_CREATION", NS, "", 0, "x", "j",
                          required_resources={"CPU": 0.5}, is_detached=True)
    nodes = {HEAD: NodeInfo(HEAD, "10.0.0.1", True, True, {"CPU": 1.0})}
    snapshot = status.Snapshot(NS, 2.0, {"organ_a"}, nodes, [row],
                               offer=status.capacity.Offer({"CPU": 1.0}, {"CPU": 0.0}, ({"CPU": 1.0},)))
    assert organ(status.judge(snapshot, CONFIG)).state == Health.PENDING
    assert "infeasible" not in organ(status.judge(snapshot, CONFIG)).error


def test_status_through_the_manager_uses_its_cluster():
    cluster = bootstrapped()
    result = OrganismManager(conn(), CONFIG, cluster=cluster).status(2)
    assert result.healthy and result.namespace == NS


def test_through_ray_client_an_extra_organ_is_known_by_its_answer():
    cluster = bootstrapped(client_mode=True, state_api=False)
    cluster.add("organ_z", "Organ", status={"organ_type": "X", "agent_ids": []})
    extra = organ(collect(cluster), "organ_z")
    assert extra.extra and extra.state == Health.HEALTHY


def test_a_foreign_actor_is_never_listed_and_asked_only_when_nothing_tells_its_class():
    cluster = bootstrapped(client_mode=True, state_api=False)
    cluster.add("their_cache", "Redis", module="theirs", creator=None)
    assert "their_cache" not in {o.organ_id for o in collect(cluster).organs}
    assert ("their_cache", "probe_status") in cluster.calls  # no class to tell: its answer decides
    cluster2 = bootstrapped(state_api=True)
    cluster2.add("their_cache", "Redis", module="theirs", creator=None)
    collect(cluster2)
    assert ("their_cache", "probe_status") not in cluster2.calls  # the State API says it is another class


def test_the_offer_sums_alive_nodes_only():
    nodes = {HEAD: NodeInfo(HEAD, "h", True, True, {"CPU": 2.0}), WORKER: NodeInfo(WORKER, "w", False, False, {"CPU": 8.0})}
    offer = status.capacity.offer_of(nodes, {"CPU": 1.0})
    assert (offer.total, offer.available, offer.nodes) == ({"CPU": 2.0}, {"CPU": 1.0}, ({"CPU": 2.0},))


def test_the_snapshot_separates_live_rows_from_death_causes():
    rows = [ActorRow("a", "Agent", "DEAD", NS, "", 0, "1", "j", death_cause="The actor is dead because it was killed."),
            ActorRow("a", "Agent", "ALIVE", NS, HEAD, 0, "2", "j"), ActorRow("", "X", "ALIVE", NS, HEAD, 0, "3", "j")]
    snapshot = status.Snapshot(NS, 1.0, {"a"}, {}, rows)
    assert list(snapshot.live_rows) == ["a"] and snapshot.live_rows["a"].actor_id == "2"
    assert snapshot.dead_causes == {"a": "it was killed"}


def test_a_dead_node_shows_in_no_load():
    cluster = bootstrapped(nodes={HEAD: NodeInfo(HEAD, "10.0.0.1", True, True, {"CPU": 4.0}),
                                  WORKER: NodeInfo(WORKER, "10.0.0.2", False, False, {"CPU": 4.0})})
    assert [load.node_id for load in collect(cluster).nodes if load.node_id] == [HEAD]
