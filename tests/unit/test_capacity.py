"""The capacity check's arithmetic (organism/capacity.py): pure, no Ray. Bootstrap's side (exit 1,
nothing created, driver and Ray Client) is in test_cli_bootstrap_options.py."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from seedcore_cli.errors import EXIT_FAILED
from seedcore_cli.organism.capacity import CapacityPlan, Demand, InsufficientCapacity, Offer, plan, why_pending

GiB = 2**30


def agents(count: int, cpu: float, prefix: str = "o_agent_", **extra) -> list[Demand]:
    return [Demand(f"{prefix}{i}", "agent", {"CPU": cpu, **extra}) for i in range(count)]


def one_node(cpu: float, available: float | None = None, **extra) -> Offer:
    node = {"CPU": cpu, **extra}
    return Offer(total=node, available={**node, "CPU": cpu if available is None else available}, nodes=(node,))


def test_an_organism_that_fits_has_no_shortfall_and_totals_per_resource():
    demands = [Demand("mw", "singleton", {"CPU": 0.01}), Demand("o", "organ", {"CPU": 0.01, "memory": GiB}),
               *agents(3, 0.02)]
    result = plan(demands, one_node(4, memory=8 * GiB))
    assert result.ok and result.shortfalls == ()
    assert [(line.resource, line.asked, line.to_create, line.available, line.total, line.fits)
            for line in result.resources] == [("CPU", 0.08, 0.08, 4, 4, True), ("memory", GiB, GiB, 8 * GiB, 8 * GiB, True)]
    assert result.to_dict() == {"ok": True, "shortfalls": [], "resources": [
        {"resource": "CPU", "asked": 0.08, "to_create": 0.08, "available": 4, "total": 4, "fits": True},
        {"resource": "memory", "asked": GiB, "to_create": GiB, "available": 8 * GiB, "total": 8 * GiB, "fits": True}]}


def test_too_many_cpus_in_total_is_one_line_naming_who_asks():
    result = plan(agents(20, 1), one_node(4))
    assert result.shortfalls == ("20 agents need 20 CPU, the cluster offers 4",)
    mixed = plan([Demand("o", "organ", {"CPU": 1}), *agents(4, 1)], one_node(4, available=2.5))
    assert mixed.shortfalls == ("1 organ and 4 agents need 5 CPU, the cluster offers 2.5 (of 4; the rest is in use)",)


def test_actors_that_exist_hold_their_resources_already():
    existing = [Demand(d.name, d.kind, d.resources, exists=True) for d in agents(3, 1)]
    # 3 CPUs are held by the existing agents; 1 is free, and nothing more is needed.
    assert plan(existing, one_node(4, available=1)).ok
    one_more = plan([*existing, Demand("o_agent_3", "agent", {"CPU": 1})], one_node(4, available=1))
    assert one_more.ok and one_more.resources[0].asked == 4 and one_more.resources[0].to_create == 1
    two_more = plan([*existing, *agents(2, 1, prefix="new_")], one_node(4, available=1))
    assert two_more.shortfalls == ("2 agents need 2 CPU, the cluster offers 1 (of 4; the rest is in use)",)


def test_a_resource_no_node_offers_is_said_once_not_twice():
    result = plan(agents(5, 0.02, robot_arm=1), one_node(4))
    assert result.shortfalls == ("no node offers resource robot_arm (wanted by o_agent_0, o_agent_1, o_agent_2 "
                                 "and 2 more)",)
    gpu = plan([Demand("g", "agent", {"CPU": 0.02, "GPU": 1})], one_node(4))
    assert gpu.shortfalls == ("no node offers resource GPU (wanted by g)",)


def test_an_actor_bigger_than_every_node_is_a_shortfall_even_when_the_total_fits():
    nodes = ({"CPU": 4}, {"CPU": 4})
    offer = Offer(total={"CPU": 8}, available={"CPU": 8}, nodes=nodes)
    result = plan([Demand("big_agent_0", "agent", {"CPU": 6})], offer)
    assert result.shortfalls == ("big_agent_0 needs 6 CPU, the biggest node offers 4",)
    two = plan(agents(2, 5), offer)
    assert two.shortfalls == ("2 agents need 10 CPU, the cluster offers 8",
                              "o_agent_0, o_agent_1 need 5 CPU each, the biggest node offers 4")


def test_a_combination_no_single_node_has():
    nodes = ({"CPU": 4}, {"CPU": 1, "robot_arm": 1})
    offer = Offer(total={"CPU": 5, "robot_arm": 1}, available={"CPU": 5, "robot_arm": 1}, nodes=nodes)
    result = plan([Demand("arm_agent_0", "agent", {"CPU": 2, "robot_arm": 1})], offer)
    assert result.shortfalls == ("arm_agent_0 needs 2 CPU and 1 robot_arm on one node; no node offers all of that",)
    assert plan([Demand("arm_agent_0", "agent", {"CPU": 1, "robot_arm": 1})], offer).ok


def test_memory_is_shown_in_units_and_without_nodes_nothing_fits():
    offer = Offer(total={"memory": GiB}, available={"memory": GiB}, nodes=({"memory": GiB},))
    result = plan([Demand("m", "singleton", {"memory": 2 * GiB})], offer)
    assert result.shortfalls == ("1 singleton needs 2GiB of memory, the cluster offers 1GiB",
                                 "m needs 2GiB of memory, the biggest node offers 1GiB")
    nobody = Offer(total={}, available={}, nodes=())
    assert plan([Demand("o", "organ", {"CPU": 0.01})], nobody).shortfalls == (
        "no node offers resource CPU (wanted by o)",)


def test_nothing_asked_fits_anywhere():
    assert plan([Demand("zero", "agent", {})], one_node(0)).ok


def test_the_error_lists_every_shortfall_on_one_line_and_exits_1():
    result = plan([*agents(20, 1), Demand("x", "agent", {"robot_arm": 1})], one_node(4))
    err = InsufficientCapacity(result)
    assert err.exit_code == EXIT_FAILED and err.plan is result and "\n" not in err.one_line()
    assert err.message == ("the organism does not fit on the cluster, nothing was created: 20 agents need 20 CPU, "
                           "the cluster offers 4; no node offers resource robot_arm (wanted by x)")


@given(st.lists(st.sampled_from([0.01, 0.02, 0.1, 0.3]), max_size=60), st.integers(min_value=0, max_value=8))
def test_sums_are_exact_to_rays_step_and_fit_means_at_most_available(cpus, free):
    result: CapacityPlan = plan([Demand(f"a{i}", "agent", {"CPU": c}) for i, c in enumerate(cpus)], one_node(8, free))
    wanted = round(sum(round(c * 10_000) for c in cpus) / 10_000, 4)
    if cpus:
        assert result.resources[0].to_create == wanted
    assert result.ok == (wanted <= free)


def test_why_an_actor_is_pending_infeasible_waiting_or_being_placed():
    nodes = ({"CPU": 2, "arm": 1}, {"CPU": 2, "memory": GiB})
    offer = Offer(total={"CPU": 4, "arm": 1, "memory": GiB}, available={"CPU": 0.5, "arm": 0, "memory": GiB},
                  nodes=nodes)
    assert why_pending({"CPU": 3}, offer) == "infeasible: it asks 3 CPU, the biggest node has 2"
    assert why_pending({"GPU": 1}, offer) == "infeasible: no node offers GPU"
    assert why_pending({"arm": 1, "memory": GiB}, offer) == "infeasible: no node has 1GiB of memory and 1 arm"
    assert why_pending({"arm": 1, "CPU": 1}, offer) == (
        "waiting for resources: it asks 1 arm, 0 free of 1; it asks 1 CPU, 0.5 free of 4")
    assert why_pending({"CPU": 0.02}, offer).startswith("waiting to be placed")
