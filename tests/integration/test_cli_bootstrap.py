"""`seedcore bootstrap` against the real session cluster, checked with Ray's own API."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from support.bad_configs import BAD_CONFIGS
from support.heads import SEEDCORE, connect_to, run_seedcore
from support.organism import named, state_actors, write_config

DEFAULT_ORGANS = ["cognitive_organ_1", "actuator_organ_1", "utility_organ_1"]
DEFAULT_AGENTS = [f"{organ}_agent_0" for organ in DEFAULT_ORGANS]
SINGLETON_CLASSES = {"miss_tracker": "MissTracker", "shared_cache": "SharedCache", "mw": "MwStore"}
DEFAULT_CLASSES = {**SINGLETON_CLASSES, **{o: "Organ" for o in DEFAULT_ORGANS},
                   **{a: "Agent" for a in DEFAULT_AGENTS}}


def base(cluster, namespace: str) -> list[str]:
    return ["--address", cluster.gcs_address, "--namespace", namespace]


def test_fresh_bootstrap_creates_exactly_the_organism_and_a_rerun_creates_nothing(
        cli, ray_cluster, namespace, organism_cleanup):
    import ray

    result = cli([*base(ray_cluster, namespace), "bootstrap", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # nothing but JSON on stdout
    assert report["created"] == 9 and report["existing"] == 0 and report["ok"] is True
    assert [(a["name"], a["kind"], a["class"], a["action"], a["state"]) for a in report["actors"]] == (
        [(n, "singleton", c, "created", "ALIVE") for n, c in SINGLETON_CLASSES.items()]
        + [(o, "organ", "Organ", "created", "ALIVE") for o in DEFAULT_ORGANS]
        + [(a, "agent", "Agent", "created", "ALIVE") for a in DEFAULT_AGENTS])
    assert "9 actor(s) created, 0 already existed" in result.stderr

    # Ray's view: exactly these actors, all ALIVE, detached, with SeedCore's fractional CPUs (0.01
    # for singletons and organs, 0.02 for agents), where seedcore says.
    rows = state_actors(ray_cluster, namespace, alive_only=False)
    assert {name: row.class_name for name, row in rows.items()} == DEFAULT_CLASSES
    assert all(row.state == "ALIVE" and row.is_detached for row in rows.values())
    assert {name: row.required_resources for name, row in rows.items()} == {
        name: {"CPU": 0.02 if cls == "Agent" else 0.01} for name, cls in DEFAULT_CLASSES.items()}
    assert all(a["options"]["max_restarts"] == -1 and a["options"]["lifetime"] == "detached"
               for a in report["actors"])
    by_name = {a["name"]: a for a in report["actors"]}
    assert {n: (r.actor_id, r.node_id) for n, r in rows.items()} == {
        n: (a["actor_id"], a["node_id"]) for n, a in by_name.items()}

    # The organism works: mw counts, organs know their agents, a task runs on an agent.
    mw = ray.get_actor("mw", namespace=namespace)
    ray.get([mw.incr.remote("item-1"), mw.incr.remote("item-1", delta=2), mw.incr.remote("item-2")])
    assert ray.get(mw.topn.remote(1)) == [("item-1", 3)]
    organ = ray.get_actor("cognitive_organ_1", namespace=namespace)
    organ_status = ray.get(organ.get_status.remote())
    assert organ_status["agent_ids"] == ["cognitive_organ_1_agent_0"] and organ_status["agent_count"] == 1
    assert organ_status["organ_type"] == "Cognitive"
    outcome = ray.get(organ.run_task.remote({"type": "planning", "rounds": 50}))
    assert outcome["ok"] and outcome["agent_id"] == "cognitive_organ_1_agent_0" and len(outcome["result"]) == 64
    agent = ray.get(ray.get_actor("cognitive_organ_1_agent_0", namespace=namespace).get_status.remote())
    assert agent["tasks_processed"] == 1 and agent["role_probs"] == {"E": 0.3, "S": 0.6, "O": 0.1}
    assert agent["capability"] > 0.5 and agent["mem_util"] > 0
    actuator = ray.get(ray.get_actor("actuator_organ_1_agent_0", namespace=namespace).get_status.remote())
    assert actuator["role_probs"] == {"E": 0.7, "S": 0.2, "O": 0.1}

    again = cli([*base(ray_cluster, namespace), "bootstrap", "-o", "json"])
    assert again.exit_code == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["created"] == 0 and second["existing"] == 9
    assert {a["name"]: a["actor_id"] for a in second["actors"]} == {n: r.actor_id for n, r in rows.items()}
    after = state_actors(ray_cluster, namespace, alive_only=False)
    assert {n: r.actor_id for n, r in after.items()} == {n: r.actor_id for n, r in rows.items()}


def test_three_concurrent_bootstraps_end_with_one_actor_per_name(ray_cluster, namespace, tmp_path,
                                                                 organism_cleanup):
    cfg = write_config(tmp_path / "small.yaml", [("solo_organ", "Utility", 2)])
    args = [*SEEDCORE, *base(ray_cluster, namespace), "bootstrap", "--config", str(cfg), "-o", "json"]
    processes = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL, env=dict(os.environ)) for _ in range(3)]
    outputs = [process.communicate(timeout=240) for process in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], [err for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    names = ["miss_tracker", "shared_cache", "mw", "solo_organ", "solo_organ_agent_0", "solo_organ_agent_1"]
    # Each actor was created by exactly one of the three processes; the others found it.
    for name in names:
        actions = [next(a["action"] for a in r["actors"] if a["name"] == name) for r in reports]
        assert sorted(actions) == ["created", "exists", "exists"], (name, actions)
    ids = {name: {next(a["actor_id"] for a in r["actors"] if a["name"] == name) for r in reports}
           for name in names}
    assert all(len(found) == 1 for found in ids.values()), ids
    rows = state_actors(ray_cluster, namespace, alive_only=False)
    assert sorted(rows) == sorted(names) and all(r.state == "ALIVE" for r in rows.values())
    assert {n: r.actor_id for n, r in rows.items()} == {n: found.pop() for n, found in ids.items()}
    connect_to(ray_cluster, namespace)
    import ray

    organ = ray.get(ray.get_actor("solo_organ", namespace=namespace).get_status.remote())
    assert organ["agent_ids"] == ["solo_organ_agent_0", "solo_organ_agent_1"]


def test_a_name_held_by_another_class_exits_1_and_leaves_it_alone(cli, ray_cluster, namespace,
                                                                 organism_cleanup):
    import ray

    connect_to(ray_cluster, namespace)

    class Squatter:
        def hello(self):
            return "still here"

    squatter = ray.remote(Squatter).options(name="actuator_organ_1", namespace=namespace,
                                            lifetime="detached", num_cpus=0).remote()
    assert ray.get(squatter.hello.remote()) == "still here"
    squatter_id = state_actors(ray_cluster, namespace)["actuator_organ_1"].actor_id

    result = cli([*base(ray_cluster, namespace), "bootstrap", "-o", "json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: actor 'actuator_organ_1' in namespace "
                                    f"'{namespace}' is a Squatter, expected Organ"), result.stderr
    assert "nothing was killed or replaced" in result.stderr
    rows = state_actors(ray_cluster, namespace, alive_only=False)
    assert list(rows) == ["actuator_organ_1"]  # nothing else was created
    assert rows["actuator_organ_1"].actor_id == squatter_id and rows["actuator_organ_1"].state == "ALIVE"
    assert ray.get(squatter.hello.remote()) == "still here"

    dry = cli([*base(ray_cluster, namespace), "bootstrap", "--dry-run", "-o", "json"])
    assert dry.exit_code == 1
    rows = {a["name"]: a for a in json.loads(dry.stdout)["actors"]}
    assert (rows["actuator_organ_1"]["action"], rows["actuator_organ_1"]["class"]) == ("conflict", "Squatter")
    assert rows["mw"]["action"] == "would create"
    assert named(namespace) == {"actuator_organ_1"}


def test_each_kind_of_bad_config_exits_2_before_connecting(cli, ray_cluster, namespace, tmp_path,
                                                           organism_cleanup):
    from seedcore_cli.ray_boundary import connection

    for case, (text, place, problem) in sorted(BAD_CONFIGS.items()):
        path = tmp_path / f"{case}.yaml"
        path.write_text(text)
        result = cli([*base(ray_cluster, namespace), "bootstrap", "--config", str(path), "-o", "json"])
        assert result.exit_code == 2, (case, result.stderr)
        assert result.stdout == "", case
        assert result.stderr.startswith(f"Error: {path}: ") and place in result.stderr, (case, result.stderr)
        assert problem in result.stderr, (case, result.stderr)
        assert connection.current() is None, f"{case}: connected although the config is bad"
    missing = cli([*base(ray_cluster, namespace), "bootstrap", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    connect_to(ray_cluster, namespace)
    assert named(namespace) == set()
    assert state_actors(ray_cluster, namespace, alive_only=False) == {}


def test_a_bad_config_from_the_environment_in_a_real_process(ray_cluster, namespace, tmp_path):
    path = tmp_path / "env.yaml"
    path.write_text(BAD_CONFIGS["negative-count"][0])
    env = {"SEEDCORE_ORGANISM_CONFIG": str(path)}
    for command in (["bootstrap"], ["organism", "status"]):
        result = run_seedcore([*base(ray_cluster, namespace), *command], env=env)
        assert result.returncode == 2, result.stderr
        assert "seedcore.organism.organ_types[1].agent_count (line 9): agent_count must not be negative" \
            in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_dry_run_and_singletons_only(cli, ray_cluster, namespace, tmp_path, organism_cleanup):
    cfg = write_config(tmp_path / "one.yaml", [("one_organ", "Cognitive", 1)])
    args = [*base(ray_cluster, namespace), "bootstrap", "--config", str(cfg)]

    dry = cli([*args, "--dry-run", "-o", "json"])
    assert dry.exit_code == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["would_create"] == 5 and report["created"] == 0
    assert {a["action"] for a in report["actors"]} == {"would create"}
    assert named(namespace) == set()

    only = cli([*args, "--singletons-only", "-o", "json"])
    assert only.exit_code == 0, only.stderr
    assert [a["name"] for a in json.loads(only.stdout)["actors"]] == list(SINGLETON_CLASSES)
    assert named(namespace) == set(SINGLETON_CLASSES)

    dry = cli([*args, "--dry-run"])  # the table
    assert dry.exit_code == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert any(w in lines[1] for w in ("name",)) and "action" in lines[1] and "node" in lines[1]
    rows = {line.split()[1]: line for line in lines if line.startswith("│")}
    assert "exists" in rows["mw"] and "ALIVE" in rows["mw"] and "127.0.0.1" in rows["mw"]
    assert "would create" in rows["one_organ"] and "would create" in rows["one_organ_agent_0"]
    assert "Dry run: 2 actor(s) would be created, 3 already existed" in dry.stderr
    assert named(namespace) == set(SINGLETON_CLASSES)


def test_namespace_after_the_command(cli, ray_cluster, namespace, organism_cleanup):
    result = cli(["--address", ray_cluster.gcs_address, "bootstrap", "--namespace", namespace,
                  "--singletons-only", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["namespace"] == namespace
    assert set(state_actors(ray_cluster, namespace)) == set(SINGLETON_CLASSES)
    from seedcore_cli.ray_boundary import connection

    connection.disconnect()  # in-process only: a new invocation connects afresh
    clash = cli([*base(ray_cluster, namespace), "bootstrap", "--namespace", namespace + "-other"])
    assert clash.exit_code == 2 and "give --namespace once" in clash.stderr
    bad = cli(["--address", ray_cluster.gcs_address, "bootstrap", "--namespace", "has space"])
    assert bad.exit_code == 2 and "namespace 'has space' (from --namespace) is invalid" in bad.stderr


@pytest.fixture
def local_state(tmp_path):
    """A state dir of our own and no recorded Ray cluster: `bootstrap` must start the embedded one."""
    return {"SEEDCORE_STATE_DIR": str(tmp_path / "state"), "RAY_TMPDIR": str(tmp_path / "no-ray")}


def test_from_nothing_bootstrap_starts_the_local_cluster_and_status_is_healthy(local_state, namespace):
    try:
        boot = run_seedcore(["--namespace", namespace, "bootstrap", "-o", "json"], env=local_state,
                            timeout=240)
        assert boot.returncode == 0, boot.stderr
        assert "Started the seedcore local cluster at 127.0.0.1:" in boot.stderr
        assert json.loads(boot.stdout)["created"] == 9
        status = run_seedcore(["--namespace", namespace, "organism", "status", "-o", "json"],
                              env=local_state, timeout=120)
        assert status.returncode == 0, status.stderr
        health = json.loads(status.stdout)
        assert health["healthy"] is True and [o["state"] for o in health["organs"]] == ["healthy"] * 3
        assert "Started" not in status.stderr  # read-only commands use the running cluster
    finally:
        stopped = run_seedcore(["cluster", "stop"], env=local_state, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
