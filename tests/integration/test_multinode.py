"""The organism on a multi-node cluster: placed off the 0-CPU head, pending actors explained,
healed after a node is lost, repaired by a bootstrap re-run. Checked with Ray's State API.

One cluster for the module (tests/multinode_cluster.py): a head with no CPUs and two worker nodes of 2
CPUs, each its own `ray start --block` from a Ray-only environment. The node-loss test runs last:
it removes a worker. seedcore runs as the real command in child processes; the test process's
own Ray driver (for what seedcore does not do: actors made by hand, an organ asked directly) is
attached to the head's raylet, which no test removes.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from support.heads import connect_to, run_seedcore
from support.multinode import MultiNodeCluster, worker_resource
from support.organism import kill_namespace, wait_until, write_config

ORGANISM = [("organ_a", "Cognitive", 3), ("organ_b", "Utility", 2)]  # 2 organs, 5 agents, 3 singletons


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = MultiNodeCluster(tmp_path_factory.mktemp("multinode")).start()
    try:
        yield started
    finally:
        from seedcore_cli.ray_boundary import connection

        connection.disconnect()
        started.stop()


@pytest.fixture(scope="module")
def organism(cluster, tmp_path_factory):
    """A default bootstrap (SeedCore's options: fractional CPUs, restarts without limit)."""
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    config = write_config(tmp_path_factory.mktemp("cfg") / "organism.yaml", ORGANISM)
    report = seedcore(cluster, namespace, "bootstrap", "--config", str(config))
    assert report["created"] == 10 and report["ok"] is True
    return namespace, config


def seedcore(cluster, namespace: str, *args: str, code: int = 0) -> dict:
    result = run_seedcore(["--address", cluster.gcs_address, "--namespace", namespace, *args, "-o", "json"])
    assert result.returncode == code, result.stderr
    # stdout is the JSON alone: the cluster messages Ray's driver prints from a background thread
    # (`(raylet) WARNING: 8 PYTHON worker processes ...`, frequent on these busy nodes) go to
    # stderr (ray_compat.cluster_messages_to_stderr).
    return json.loads(result.stdout)


def by_name(cluster, namespace: str, state: str | None = "ALIVE") -> dict[str, dict]:
    return {row["name"]: row for row in cluster.actors(namespace) if state is None or row["state"] == state}


def reported(health: dict) -> dict[str, dict]:
    """Every actor of an `organism status -o json`, by name."""
    found = {item["name"]: item for item in health["singletons"]}
    for organ in health["organs"]:
        found[organ["organ_id"]] = organ
        found.update({agent["agent_id"]: agent for agent in organ["agents"]})
    return found


def test_the_default_bootstrap_places_nothing_on_the_head_and_status_shows_the_placement(cluster, organism):
    namespace, config = organism
    rows = by_name(cluster, namespace)
    workers = {node.node_id for node in cluster.nodes}
    assert len(rows) == 10 and {row["node_id"] for row in rows.values()} <= workers  # none on the head

    health = seedcore(cluster, namespace, "organism", "status", "--config", str(config))
    assert health["healthy"] is True
    actors = reported(health)
    assert {name: (item["node_id"], item["required_resources"], item["ray_state"]) for name, item in actors.items()} == {
        name: (row["node_id"], row["required_resources"], "ALIVE") for name, row in rows.items()}
    assert actors["organ_a_agent_0"]["required_resources"] == {"CPU": 0.02}
    nodes = {load["node_id"]: load for load in health["nodes"]}
    assert set(nodes) == {cluster.head.node_id, *workers}  # every alive node, the empty head too
    assert nodes[cluster.head.node_id]["is_head"] is True and nodes[cluster.head.node_id]["actor_count"] == 0
    for node_id in workers:
        here = [row for row in rows.values() if row["node_id"] == node_id]
        assert sorted(nodes[node_id]["actors"]) == sorted(row["name"] for row in here)
        cpu = round(sum(row["required_resources"].get("CPU", 0) for row in here), 4)
        assert nodes[node_id]["resources"] == ({"CPU": cpu} if here else {})

    table = run_seedcore(["--address", cluster.gcs_address, "--namespace", namespace, "organism", "status",
                          "--config", str(config)])
    assert table.returncode == 0, table.stderr
    assert "Placement" in table.stdout and "0.15 CPU" in table.stdout  # 3 x 0.01 + 2 x 0.01 + 4 x 0.02
    assert f"({cluster.head.node_id[:8]}, head)" in table.stdout


def test_actors_ray_cannot_place_are_pending_with_the_reason(cluster, tmp_path):
    import ray

    from seedcore_cli.organism.actors import Agent, Organ

    namespace = f"t-{uuid.uuid4().hex[:10]}"
    connect_to(cluster, namespace)
    class Holder:  # defined here: pickled by value (the cluster cannot import this module)
        def ready(self) -> bool:
            return True

    slot = worker_resource(1)  # one unit on worker 1: held below, so a second asker waits
    holder = ray.remote(num_cpus=0, resources={slot: 1})(Holder).options(
        name="holder", namespace=namespace, lifetime="detached").remote()
    ray.get(holder.ready.remote(), timeout=60)
    made = [ray.remote(Organ).options(name="organ_p", namespace=namespace, lifetime="detached",
                                     num_cpus=0.01).remote("organ_p", "Cognitive"),
            ray.remote(Agent).options(name="organ_p_agent_0", namespace=namespace, lifetime="detached",
                                     num_cpus=3).remote("organ_p_agent_0", "organ_p", "Cognitive"),
            ray.remote(Agent).options(name="organ_p_agent_1", namespace=namespace, lifetime="detached",
                                     num_cpus=0, resources={slot: 1}).remote(
                "organ_p_agent_1", "organ_p", "Cognitive")]
    try:
        assert wait_until(lambda: {name: row["state"] for name, row in by_name(cluster, namespace, None).items()
                                   if name.startswith("organ_p")} == {
            "organ_p": "ALIVE", "organ_p_agent_0": "PENDING_CREATION", "organ_p_agent_1": "PENDING_CREATION"},
            timeout=30)
        config = write_config(tmp_path / "p.yaml", [("organ_p", "Cognitive", 2)])
        health = seedcore(cluster, namespace, "organism", "status", "--config", str(config), "--timeout", "8",
                          code=1)
        assert health["elapsed_s"] < 4  # the pending agents were not asked (the call would only wait)
        (organ,) = health["organs"]
        assert organ["state"] == "degraded"
        agents = {agent["agent_id"]: agent for agent in organ["agents"]}
        assert (agents["organ_p_agent_0"]["state"], agents["organ_p_agent_0"]["error"]) == (
            "pending", "infeasible: it asks 3 CPU, the biggest node has 2")
        assert (agents["organ_p_agent_1"]["state"], agents["organ_p_agent_1"]["error"]) == (
            "pending", f"waiting for resources: it asks 1 {slot}, 0 free of 1")
        assert agents["organ_p_agent_0"]["ray_state"] == "PENDING_CREATION"
        assert agents["organ_p_agent_0"]["required_resources"] == {"CPU": 3}
        assert {"kind": "agent", "name": "organ_p_agent_0", "state": "pending",
                "detail": "infeasible: it asks 3 CPU, the biggest node has 2"} in health["problems"]
        (unplaced,) = [load for load in health["nodes"] if load["node_id"] == ""]
        assert sorted(unplaced["actors"]) == ["organ_p_agent_0", "organ_p_agent_1"]
        assert unplaced["resources"] == {"CPU": 3, slot: 1}

        # A bootstrap re-run reports them pending at once (a probe would wait its whole timeout).
        started = time.monotonic()
        report = seedcore(cluster, namespace, "bootstrap", "--config", str(config), "--timeout", "60", code=1)
        assert time.monotonic() - started < 30
        states = {actor["name"]: (actor["action"], actor["state"]) for actor in report["actors"]}
        assert states["organ_p_agent_0"] == states["organ_p_agent_1"] == ("exists", "PENDING")
        assert states["organ_p"] == ("exists", "ALIVE")
    finally:
        for handle in [*made, holder]:
            ray.kill(handle, no_restart=True)
        kill_namespace(namespace)  # the singletons the bootstrap made


def test_a_bootstrap_rerun_repairs_what_died_and_only_that(cluster, tmp_path):
    import ray

    namespace = f"t-{uuid.uuid4().hex[:10]}"
    config = tmp_path / "no-restarts.yaml"
    write_config(config, [("organ_r", "Utility", 2)])
    config.write_text(config.read_text().replace("    organ_types:", "    defaults:\n      agent: {max_restarts: 0}\n"
                                                                       "    organ_types:"))
    assert seedcore(cluster, namespace, "bootstrap", "--config", str(config))["created"] == 6
    connect_to(cluster, namespace)
    crashed = ray.get_actor("organ_r_agent_0", namespace=namespace)
    crashed.__ray_call__.remote(lambda self: __import__("os")._exit(1))  # its process dies: no restart left
    ray.kill(ray.get_actor("organ_r_agent_1", namespace=namespace), no_restart=True)  # removed on purpose
    assert wait_until(lambda: not {"organ_r_agent_0", "organ_r_agent_1"} & set(by_name(cluster, namespace)), timeout=30)

    health = seedcore(cluster, namespace, "organism", "status", "--config", str(config), code=1)
    assert {p["name"]: p["state"] for p in health["problems"]} == {
        "organ_r": "degraded", "organ_r_agent_0": "dead", "organ_r_agent_1": "dead"}
    report = seedcore(cluster, namespace, "bootstrap", "--config", str(config))
    actions = {actor["name"]: actor for actor in report["actors"]}
    assert actions["organ_r_agent_0"]["action"] == "repaired" and "died" in actions["organ_r_agent_0"]["previous_death"]
    assert (actions["organ_r_agent_1"]["action"], actions["organ_r_agent_1"]["previous_death"]) == ("created", "")
    assert (report["repaired"], report["created"], report["existing"]) == (1, 1, 4)
    assert set(by_name(cluster, namespace)) == {"miss_tracker", "shared_cache", "mw", "organ_r", "organ_r_agent_0",
                                               "organ_r_agent_1"}
    assert seedcore(cluster, namespace, "organism", "status", "--config", str(config))["healthy"] is True
    for name in by_name(cluster, namespace):
        ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)


def test_after_a_node_is_lost_the_organism_comes_back_alive_on_the_other_node(cluster, organism, tmp_path):
    """Runs last in the module: it removes the worker node that holds organ_a."""
    import ray

    from seedcore_cli.organism.actors import Agent

    namespace, config = organism
    before = by_name(cluster, namespace)
    index = next(i for i, node in enumerate(cluster.nodes) if node.node_id == before["organ_a"]["node_id"])
    # An agent that can only live on that node (its resource): Ray keeps restarting it, for ever.
    pinned_ns = f"t-{uuid.uuid4().hex[:10]}"
    connect_to(cluster, pinned_ns)
    pinned = ray.remote(Agent).options(
        name="organ_q_agent_0", namespace=pinned_ns, lifetime="detached", num_cpus=0, max_restarts=-1,
        resources={worker_resource(index): 0.5}).remote("organ_q_agent_0", "organ_q", "Utility")
    ray.get(pinned.get_status.remote(), timeout=60)

    started = time.monotonic()
    lost = cluster.remove(index)
    survivor = next(node.node_id for node in cluster.nodes if node.node_id != lost)

    def healed() -> bool:
        rows = [row for row in cluster.actors(namespace) if row["state"] != "DEAD"]
        return len(rows) == 10 and all(row["state"] == "ALIVE" and row["node_id"] == survivor for row in rows)

    assert wait_until(healed, timeout=60, interval=0.5), by_name(cluster, namespace, None)
    healing_s = time.monotonic() - started
    rows = by_name(cluster, namespace)
    assert lost not in {row["node_id"] for row in rows.values()} and int(rows["organ_a"]["num_restarts"]) >= 1

    health = seedcore(cluster, namespace, "organism", "status", "--config", str(config))
    assert health["healthy"] is True, health["problems"]
    assert {item["node_id"] for item in reported(health).values()} == {survivor}
    assert lost not in {load["node_id"] for load in health["nodes"]}
    assert [(o["organ_id"], o["agents_alive"], o["agents_expected"]) for o in health["organs"]] == [
        ("organ_a", 3, 3), ("organ_b", 2, 2)]
    # The restarted organ found its agents again by name: no bootstrap ran since the loss.
    organ = ray.get_actor("organ_a", namespace=namespace)
    assert ray.get(organ.get_status.remote(), timeout=30)["agent_ids"] == [f"organ_a_agent_{i}" for i in range(3)]
    assert ray.get(organ.run_task.remote({"rounds": 10}), timeout=30)["ok"] is True

    # Nothing to repair or create when all is healthy; what is healthy is left alone.
    report = seedcore(cluster, namespace, "bootstrap", "--config", str(config))
    assert (report["created"], report["repaired"], report["existing"]) == (0, 0, 10)
    assert {name: row["actor_id"] for name, row in by_name(cluster, namespace).items()} == {
        name: row["actor_id"] for name, row in rows.items()}

    # The pinned agent has nowhere to go: restarting, on the lost node.
    pinned_cfg = write_config(tmp_path / "q.yaml", [("organ_q", "Utility", 1)])
    health = seedcore(cluster, pinned_ns, "organism", "status", "--config", str(pinned_cfg), code=1)
    (agent,) = health["organs"][0]["agents"]
    assert (agent["state"], agent["ray_state"], agent["node_id"]) == ("restarting", "RESTARTING", lost)
    assert agent["error"] == f"Ray is restarting it (restarts so far: 1; its node {lost[:8]} is gone)"
    ray.kill(pinned, no_restart=True)
    print(f"healed {healing_s:.1f} s after the node was declared dead")
