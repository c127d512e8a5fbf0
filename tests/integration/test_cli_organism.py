"""`seedcore organism status|teardown` against real clusters, checked with Ray's own API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.heads import LOOPBACK, connect_to, run_client, stop_head
from support.organism import named, state_actors, wait_until, write_config

SINGLETONS = ["miss_tracker", "shared_cache", "mw"]


def base(cluster, namespace: str) -> list[str]:
    return ["--address", cluster.gcs_address, "--namespace", namespace]


def bootstrap(cli, cluster, namespace: str, config: Path) -> dict:
    result = cli([*base(cluster, namespace), "bootstrap", "--config", str(config), "-o", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_status_of_a_healthy_organism_and_of_extra_and_missing_organs(cli, ray_cluster, namespace, tmp_path,
                                                                    organism_cleanup):
    cfg = write_config(tmp_path / "a.yaml", [("organ_a", "Actuator", 2)])
    bootstrap(cli, ray_cluster, namespace, cfg)

    result = cli([*base(ray_cluster, namespace), "organism", "status", "--config", str(cfg), "-o", "json"])
    assert result.exit_code == 0, result.stderr
    health = json.loads(result.stdout)
    assert health["healthy"] is True and health["problems"] == [] and health["state_api"] is True
    (organ,) = health["organs"]
    assert (organ["organ_id"], organ["organ_type"], organ["state"], organ["extra"],
            organ["agents_alive"], organ["agents_expected"]) == ("organ_a", "Actuator", "healthy", False, 2, 2)
    assert [(a["agent_id"], a["state"]) for a in organ["agents"]] == [
        ("organ_a_agent_0", "healthy"), ("organ_a_agent_1", "healthy")]
    assert all(a["idle_s"] >= 0 and a["tasks_processed"] == 0 for a in organ["agents"])
    assert [(s["name"], s["state"]) for s in health["singletons"]] == [(n, "healthy") for n in SINGLETONS]
    rows = state_actors(ray_cluster, namespace)
    reported = {organ["organ_id"]: organ["node_id"], **{a["agent_id"]: a["node_id"] for a in organ["agents"]},
                **{s["name"]: s["node_id"] for s in health["singletons"]}}
    assert reported == {name: row.node_id for name, row in rows.items()}
    assert "healthy: 1 organ(s), 2 agent(s)" in result.stderr

    table = cli([*base(ray_cluster, namespace), "organism", "status", "--config", str(cfg), "--agents"])
    assert table.exit_code == 0, table.stderr
    assert "idle" in table.stdout and "organ_a_agent_1" in table.stdout
    assert "2/2" in table.stdout and "127.0.0.1" in table.stdout

    # Another config: organ_a is now extra (listed, not counted), organ_b is missing (exit 1).
    other = write_config(tmp_path / "b.yaml", [("organ_b", "Utility", 1)])
    result = cli([*base(ray_cluster, namespace), "organism", "status", "--config", str(other), "-o", "json"])
    assert result.exit_code == 1
    health = json.loads(result.stdout)
    organs = {o["organ_id"]: o for o in health["organs"]}
    assert organs["organ_b"]["state"] == "missing" and organs["organ_b"]["extra"] is False
    assert organs["organ_b"]["agents"][0]["state"] == "missing"
    assert organs["organ_a"]["extra"] is True and organs["organ_a"]["state"] == "healthy"
    assert organs["organ_a"]["agents_alive"] == 2
    assert {"kind": "organ", "name": "organ_b", "state": "missing", "detail": ""} in health["problems"]
    assert "unhealthy: organ organ_b: missing" in result.stderr


def test_a_killed_agent_is_dead_and_a_stuck_one_unresponsive_within_the_timeout(
        cli, ray_cluster, namespace, tmp_path, organism_cleanup):
    import ray

    cfg = write_config(tmp_path / "three.yaml", [("organ_x", "Cognitive", 3)])
    bootstrap(cli, ray_cluster, namespace, cfg)
    ray.kill(ray.get_actor("organ_x_agent_0", namespace=namespace), no_restart=True)
    stuck = ray.get_actor("organ_x_agent_1", namespace=namespace)
    stuck.__ray_call__.remote(lambda self: time.sleep(120))  # busy far past the timeout
    assert wait_until(lambda: "organ_x_agent_0" not in named(namespace))

    result = cli([*base(ray_cluster, namespace), "organism", "status", "--config", str(cfg),
                  "--timeout", "3", "-o", "json"])
    assert result.exit_code == 1  # the stuck agent did not hold the command: it is reported below
    health = json.loads(result.stdout)
    (organ,) = health["organs"]
    assert organ["state"] == "degraded" and organ["agents_alive"] == 1 and organ["agents_expected"] == 3
    agents = {a["agent_id"]: a for a in organ["agents"]}
    assert agents["organ_x_agent_0"]["state"] == "dead"
    assert agents["organ_x_agent_1"]["state"] == "unresponsive"
    assert agents["organ_x_agent_1"]["error"] == "no answer within 3 s"
    assert agents["organ_x_agent_1"]["node_id"] == state_actors(ray_cluster, namespace)["organ_x_agent_1"].node_id
    assert agents["organ_x_agent_2"]["state"] == "healthy"
    assert state_actors(ray_cluster, namespace, alive_only=False)["organ_x_agent_0"].state == "DEAD"
    assert "agent organ_x_agent_0: dead" in result.stderr and "agent organ_x_agent_1: unresponsive" in result.stderr

    # The organ itself killed: dead (the State API remembers it), its agents still reported.
    ray.kill(ray.get_actor("organ_x", namespace=namespace), no_restart=True)
    assert wait_until(lambda: "organ_x" not in named(namespace))
    result = cli([*base(ray_cluster, namespace), "organism", "status", "--config", str(cfg),
                  "--timeout", "2", "-o", "json"])
    assert result.exit_code == 1
    (organ,) = json.loads(result.stdout)["organs"]
    assert organ["state"] == "dead"
    assert [a["state"] for a in organ["agents"]] == ["dead", "unresponsive", "healthy"]


def test_status_of_nothing_is_missing(cli, ray_cluster, namespace):
    result = cli([*base(ray_cluster, namespace), "organism", "status", "-o", "json"])
    assert result.exit_code == 1
    health = json.loads(result.stdout)
    assert health["healthy"] is False
    assert [(o["organ_id"], o["state"]) for o in health["organs"]] == [
        ("cognitive_organ_1", "missing"), ("actuator_organ_1", "missing"), ("utility_organ_1", "missing")]
    assert {s["state"] for s in health["singletons"]} == {"missing"}


def test_watch_needs_a_terminal(cli, ray_cluster, namespace):
    result = cli([*base(ray_cluster, namespace), "organism", "status", "--watch"])
    assert result.exit_code == 2 and "--watch needs a terminal" in result.stderr and result.stdout == ""
    result = cli([*base(ray_cluster, namespace), "organism", "status", "--watch", "-o", "json"])
    assert result.exit_code == 2 and "cannot be combined with -o json" in result.stderr


def test_teardown_removes_the_organism_and_nothing_else(cli, ray_cluster, namespace, tmp_path,
                                                       organism_cleanup):
    import ray

    cfg = write_config(tmp_path / "t.yaml", [("organ_t", "Utility", 1)])
    bootstrap(cli, ray_cluster, namespace, cfg)

    class Bystander:
        def ping(self):
            return "here"

    bystander = ray.remote(Bystander).options(name="bystander", namespace=namespace, lifetime="detached",
                                              num_cpus=0).remote()
    elsewhere_ns = namespace + "-elsewhere"
    from seedcore_cli.organism.actors import Organ

    elsewhere = ray.remote(Organ).options(name="organ_t", namespace=elsewhere_ns, lifetime="detached",
                                          num_cpus=0).remote(organ_id="organ_t", organ_type="Utility")
    assert ray.get([bystander.ping.remote(), elsewhere.ping.remote()])[0] == "here"
    before = named(namespace)

    refused = cli([*base(ray_cluster, namespace), "organism", "teardown"])  # stdin is not a terminal
    assert refused.exit_code == 2 and "pass --yes" in refused.stderr
    assert named(namespace) == before

    result = cli([*base(ray_cluster, namespace), "organism", "teardown", "--yes", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["killed"] == 2
    assert [(a["name"], a["kind"], a["action"]) for a in report["actors"]] == [
        ("organ_t_agent_0", "agent", "killed"), ("organ_t", "organ", "killed")]
    alive = state_actors(ray_cluster, namespace)
    assert sorted(alive) == sorted(["bystander", *SINGLETONS])
    everything = state_actors(ray_cluster, namespace, alive_only=False)
    assert everything["organ_t"].state == "DEAD" and everything["organ_t_agent_0"].state == "DEAD"
    assert ray.get(elsewhere.ping.remote())["class"] == "Organ"  # another namespace: untouched

    result = cli([*base(ray_cluster, namespace), "organism", "teardown", "--include-singletons", "-y"])
    assert result.exit_code == 0, result.stderr
    assert "Killed 3 actor(s)" in result.stderr and "mw" in result.stdout
    assert sorted(state_actors(ray_cluster, namespace)) == ["bystander"]
    assert ray.get(bystander.ping.remote()) == "here"

    nothing = cli([*base(ray_cluster, namespace), "organism", "teardown", "--yes"])
    assert nothing.exit_code == 0 and "Nothing to tear down" in nothing.stderr
    ray.kill(elsewhere)


# --- two nodes --------------------------------------------------------------------------------


# ray.cluster_utils.Cluster in a child process of its own session (our driver stays free to
# connect as a client of it); a private RAY_TMPDIR keeps it from recording itself as the machine's
# "current" cluster. SIGTERM shuts it down; nothing else is touched.
TWO_NODES = r"""
import json, os, signal, sys, time
from ray.cluster_utils import Cluster
gcs, client, dashboard = (int(p) for p in sys.argv[1:4])
cluster = Cluster(initialize_head=True, head_node_args=dict(
    num_cpus=1, node_ip_address="127.0.0.1", include_dashboard=True, dashboard_host="127.0.0.1",
    dashboard_port=dashboard, ray_client_server_port=client, gcs_server_port=gcs))
cluster.add_node(num_cpus=1, resources={"worker_node": 1}, node_ip_address="127.0.0.1")
cluster.wait_for_nodes()
signal.signal(signal.SIGTERM, lambda *_: (cluster.shutdown(), sys.exit(0)))
print(json.dumps({"gcs": cluster.gcs_address}), flush=True)
while True:
    time.sleep(1)
"""


@pytest.fixture
def two_node_cluster(tmp_path):
    """A head and a worker node (custom resource `worker_node`) on loopback, both ours."""
    import tempfile

    from support.heads import RayCluster, free_port, wait_dashboard, wait_port

    gcs, client, dashboard = free_port(), free_port(), free_port()
    private_tmp = tempfile.mkdtemp(prefix="sc2n-", dir="/tmp")  # short: Ray's socket paths
    log = open(tmp_path / "two-nodes.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-c", TWO_NODES, str(gcs), str(client), str(dashboard)],
        stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True, start_new_session=True,
        env=dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_TMPDIR=private_tmp))
    cluster = RayCluster(process.pid, gcs, client, dashboard)
    try:
        ready = process.stdout.readline()
        assert ready, f"the two-node cluster did not start: see {tmp_path / 'two-nodes.log'}"
        wait_port(client)
        wait_dashboard(cluster)
        yield cluster
    finally:
        from seedcore_cli.ray_boundary import connection

        connection.disconnect()
        stop_head(process)
        log.close()
        shutil.rmtree(private_tmp, ignore_errors=True)


def test_status_reports_each_actors_node_on_two_nodes(cli, two_node_cluster, namespace, tmp_path):
    import ray

    from seedcore_cli.organism.actors import Agent
    from seedcore_cli.ray_boundary import connection

    cluster = two_node_cluster
    connect_to(cluster, namespace)
    assert wait_until(lambda: len([n for n in ray.nodes() if n["Alive"]]) == 2, timeout=60)
    worker_id = next(n["NodeID"] for n in ray.nodes() if "worker_node" in n["Resources"])
    head_id = next(n["NodeID"] for n in ray.nodes() if "worker_node" not in n["Resources"])

    # One agent pinned to the worker node before bootstrap; bootstrap adopts it.
    ray.remote(Agent).options(
        name="organ_n_agent_0", namespace=namespace, lifetime="detached", num_cpus=0,
        resources={"worker_node": 0.01}).remote(agent_id="organ_n_agent_0", organ_id="organ_n",
                                                organ_type="Cognitive")
    cfg = write_config(tmp_path / "n.yaml", [("organ_n", "Cognitive", 2)])
    report = bootstrap(cli, cluster, namespace, cfg)
    actions = {a["name"]: a["action"] for a in report["actors"]}
    assert actions["organ_n_agent_0"] == "exists" and actions["organ_n_agent_1"] == "created"

    result = cli([*base(cluster, namespace), "organism", "status", "--config", str(cfg), "-o", "json"])
    assert result.exit_code == 0, result.stderr
    health = json.loads(result.stdout)
    (organ,) = health["organs"]
    reported = {organ["organ_id"]: organ["node_id"], **{a["agent_id"]: a["node_id"] for a in organ["agents"]},
                **{s["name"]: s["node_id"] for s in health["singletons"]}}
    truth = {name: row.node_id for name, row in state_actors(cluster, namespace).items()}
    assert reported == truth
    assert reported["organ_n_agent_0"] == worker_id and set(reported.values()) <= {worker_id, head_id}
    agent0 = organ["agents"][0]
    assert agent0["node_ip"] == LOOPBACK and agent0["node"] == f"{LOOPBACK} ({worker_id[:8]})"
    connection.disconnect()

    # The same through Ray Client (ray://), in a real process.
    client = run_client(["--address", cluster.client_address, "--namespace", namespace, "organism",
                         "status", "--config", str(cfg), "-o", "json"])
    assert client.returncode == 0, client.stderr
    health = json.loads(client.stdout)
    (organ,) = health["organs"]
    assert {a["agent_id"]: a["node_id"] for a in organ["agents"]} == {
        "organ_n_agent_0": truth["organ_n_agent_0"], "organ_n_agent_1": truth["organ_n_agent_1"]}
    assert organ["node_id"] == truth["organ_n"]

    # Bootstrap through Ray Client too: a new organ is created, the rest exists.
    bigger = write_config(tmp_path / "n2.yaml", [("organ_n", "Cognitive", 2), ("organ_c", "Utility", 1)])
    client = run_client(["--address", cluster.client_address, "--namespace", namespace, "bootstrap",
                         "--config", str(bigger), "-o", "json"])
    assert client.returncode == 0, client.stderr
    actions = {a["name"]: a["action"] for a in json.loads(client.stdout)["actors"]}
    assert actions == {**{name: "exists" for name in truth}, "organ_c": "created", "organ_c_agent_0": "created"}
    rows = state_actors(cluster, namespace)
    assert rows["organ_c"].class_name == "Organ" and rows["organ_c_agent_0"].is_detached


def test_teardown_spares_a_foreign_agent_class_and_an_actor_that_took_a_name_since_the_plan(
        cli, ray_cluster, namespace, tmp_path, organism_cleanup):
    import ray

    from seedcore_cli.organism.actors import Agent as SeedcoreAgent
    from seedcore_cli.organism.manager import REPLACED, OrganismManager

    cfg = write_config(tmp_path / "r.yaml", [("organ_r", "Utility", 2)])
    bootstrap(cli, ray_cluster, namespace, cfg)

    # Not seedcore's: a class that merely has the same name (qualname `Agent`, as Ray records it).
    Agent = type("Agent", (), {"ping": lambda self: "foreign"})
    foreign = ray.remote(Agent).options(name="foreign_agent", namespace=namespace, lifetime="detached",
                                        num_cpus=0).remote()
    assert ray.get(foreign.ping.remote()) == "foreign"

    organism = OrganismManager(connect_to(ray_cluster, namespace))
    plan = organism.plan_teardown()
    assert [(item.name, item.kind, item.class_name) for item in plan] == [
        ("organ_r_agent_0", "agent", "Agent"), ("organ_r_agent_1", "agent", "Agent"), ("organ_r", "organ", "Organ")]

    # While the operator reads the prompt, organ_r_agent_1 is replaced by a new actor of that name.
    ray.kill(ray.get_actor("organ_r_agent_1", namespace=namespace), no_restart=True)
    assert wait_until(lambda: "organ_r_agent_1" not in named(namespace))
    newcomer = ray.remote(SeedcoreAgent).options(
        name="organ_r_agent_1", namespace=namespace, lifetime="detached", num_cpus=0,
    ).remote(agent_id="organ_r_agent_1", organ_id="organ_r", organ_type="Utility")
    newcomer_id = ray.get(newcomer.ping.remote())["actor_id"]

    done = organism.teardown(plan)
    assert [(item.name, item.action) for item in done] == [
        ("organ_r_agent_0", "killed"), ("organ_r_agent_1", REPLACED), ("organ_r", "killed")]
    alive = state_actors(ray_cluster, namespace)
    assert alive["organ_r_agent_1"].actor_id == newcomer_id
    assert alive["foreign_agent"].class_name == "Agent" and ray.get(foreign.ping.remote()) == "foreign"

    # Through the CLI too: the foreign Agent is never planned, the newcomer (seedcore's) is.
    result = cli([*base(ray_cluster, namespace), "organism", "teardown", "--yes", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    assert [(a["name"], a["action"]) for a in json.loads(result.stdout)["actors"]] == [("organ_r_agent_1", "killed")]
    assert sorted(state_actors(ray_cluster, namespace)) == sorted(["foreign_agent", *SINGLETONS])
    assert ray.get(foreign.ping.remote()) == "foreign"


def test_an_organ_that_does_not_know_its_agents_is_degraded_until_bootstrap_registers_them(
        cli, ray_cluster, namespace, tmp_path, organism_cleanup):
    import ray

    from seedcore_cli.organism.actors import Agent, Organ

    config = write_config(tmp_path / "forgot.yaml", [("organ_f", "Utility", 1)])
    connect_to(ray_cluster, namespace)
    # An organ made before organs knew their agents' names (no agent_ids): it cannot find them itself.
    organ = ray.remote(Organ).options(name="organ_f", namespace=namespace, lifetime="detached",
                                     num_cpus=0).remote("organ_f", "Utility")
    agent = ray.remote(Agent).options(name="organ_f_agent_0", namespace=namespace, lifetime="detached",
                                     num_cpus=0).remote("organ_f_agent_0", "organ_f", "Utility")
    assert ray.get(organ.get_status.remote())["agent_ids"] == [] and ray.get(agent.get_status.remote())
    status_args = [*base(ray_cluster, namespace), "organism", "status", "--config", str(config), "-o", "json"]
    result = cli(status_args)
    assert result.exit_code == 1
    (organ_status,) = json.loads(result.stdout)["organs"]
    assert organ_status["state"] == "degraded", organ_status
    assert "does not know its agent(s) organ_f_agent_0" in organ_status["error"]
    assert organ_status["agents"][0]["state"] == "healthy"

    assert cli([*base(ray_cluster, namespace), "bootstrap", "--config", str(config)]).exit_code == 0
    result = cli(status_args)
    assert result.exit_code == 0, result.stdout
    assert ray.get(organ.get_status.remote())["agent_ids"] == ["organ_f_agent_0"]
