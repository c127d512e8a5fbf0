"""`seedcore bootstrap` with actor options, SeedCore's config format and the capacity check, against
the real session cluster (2 CPUs), checked with Ray's own API (State API, ray.get_actor)."""

from __future__ import annotations

import json
from pathlib import Path

from support.heads import connect_to, run_client
from support.organism import named, state_actors, wait_until, write_config

FIXTURE = Path(__file__).parents[1] / "fixtures" / "organism_seedcore_format.yaml"
SINGLETONS = ["miss_tracker", "shared_cache", "mw"]


def base(cluster, namespace: str) -> list[str]:
    return ["--address", cluster.gcs_address, "--namespace", namespace]


def options_config(path: Path, organs: list[tuple[str, int, str]]) -> Path:
    """organ_types entries (id, agent_count, agent_options as YAML flow text)."""
    lines = ["seedcore:", "  organism:", "    organ_types:"]
    for organ_id, count, agent_options in organs:
        lines.append(f"      - {{id: {organ_id}, type: Utility, agent_count: {count}, agent_options: {agent_options}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_seedcore_format_options_reach_ray_and_each_value_says_where_it_came_from(
        cli, ray_cluster, namespace, organism_cleanup):
    import ray

    result = cli(["-v", *base(ray_cluster, namespace), "bootstrap", "--config", str(FIXTURE), "-o", "json"],
                 env={"SEEDCORE_ORGAN_CPU": "0.02"})
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["created"] == 9 and report["ok"] is True and report["capacity"]["ok"] is True
    options = {a["name"]: a["options"] for a in report["actors"]}
    assert options["sensing_organ_note_taker_0"] == {
        "num_cpus": 0.04, "num_gpus": None, "memory": None, "resources": {}, "max_restarts": 2,
        "max_task_retries": 1, "placement": "default", "lifetime": "detached"}
    assert options["relay_organ_relay_0"]["placement"] == "spread"
    assert options["relay_organ"]["memory"] == 64 * 2**20 and options["relay_organ"]["num_cpus"] == 0.02

    # Ray's view: what each actor holds is what the config, the environment and the defaults say.
    rows = state_actors(ray_cluster, namespace)
    assert {name: row.required_resources for name, row in rows.items()} == {
        **{name: {"CPU": 0.01} for name in SINGLETONS},
        "sensing_organ": {"CPU": 0.02}, "relay_organ": {"CPU": 0.02, "memory": 64 * 2**20},
        "sensing_organ_vision_scout_0": {"CPU": 0.03}, "sensing_organ_vision_scout_1": {"CPU": 0.03},
        "sensing_organ_note_taker_0": {"CPU": 0.04}, "relay_organ_relay_0": {"CPU": 0.03}}
    (cpu,) = [line for line in report["capacity"]["resources"] if line["resource"] == "CPU"]
    assert cpu["asked"] == cpu["to_create"] == 0.2  # 3 x 0.01 + 2 x 0.02 + 3 x 0.03 + 0.04

    # The agents carry their specialization; their organ knows them.
    scout = ray.get_actor("sensing_organ_vision_scout_1", namespace=namespace)
    assert ray.get(scout.get_status.remote())["specialization"] == "VISION_SCOUT"
    organ = ray.get(ray.get_actor("relay_organ", namespace=namespace).get_status.remote())
    assert (organ["organ_type"], organ["agent_ids"]) == ("Utility", ["relay_organ_relay_0"])

    # max_restarts reached Ray: a killed note taker (max_restarts 2) comes back.
    note_taker = ray.get_actor("sensing_organ_note_taker_0", namespace=namespace)
    before = rows["sensing_organ_note_taker_0"].actor_id
    ray.kill(note_taker, no_restart=False)
    restarted = wait_until(lambda: (row := state_actors(ray_cluster, namespace).get("sensing_organ_note_taker_0"))
                           and row.num_restarts == 1 and row)
    assert restarted and restarted.actor_id == before
    assert ray.get(note_taker.get_status.remote(), timeout=60)["specialization"] == "note_taker"

    # -v: what was ignored, and where each value came from (stderr only).
    assert "Note: seedcore.organism.settings (line 5): SeedCore's global settings" in result.stderr
    assert "Note: seedcore.organism.topology (line 29)" in result.stderr
    assert ("options of sensing_organ_vision_scout_0, sensing_organ_vision_scout_1: num_cpus=0.03 "
            "(config defaults.agent), max_restarts=-1 (built-in)") in result.stderr
    assert ("options of sensing_organ: num_cpus=0.02 (SEEDCORE_ORGAN_CPU), max_restarts=-1 (built-in), "
            "lifetime=detached (built-in)") in result.stderr
    assert "max_task_retries=1 (config organs[0].agents[1].options)" in result.stderr

    table = cli([*base(ray_cluster, namespace), "bootstrap", "--config", str(FIXTURE)])
    assert table.exit_code == 0, table.stderr
    rows_by_name = {line.split()[1]: line for line in table.stdout.splitlines() if line.startswith("│")}
    assert "cpu=0.04 restarts=2 retries=1" in rows_by_name["sensing_organ_note_taker_0"]
    assert "cpu=0.03 restarts=-1 spread" in rows_by_name["relay_organ_relay_0"]
    assert "Note:" not in table.stderr and "options of" not in table.stderr  # only under -v


def test_an_organism_that_does_not_fit_exits_1_naming_each_shortfall_and_creates_nothing(
        cli, ray_cluster, namespace, tmp_path, organism_cleanup):
    cfg = options_config(tmp_path / "big.yaml", [("big", 1, "{num_cpus: 8}"), ("arm", 1, "{resources: {robot_arm: 1}}")])
    args = [*base(ray_cluster, namespace), "bootstrap", "--config", str(cfg)]
    result = cli([*args, "-o", "json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: the organism does not fit on the cluster, nothing was created: "
                                    "3 singletons, 2 organs and 2 agents need 8.07 CPU, the cluster offers ")
    assert "; big_agent_0 needs 8 CPU, the biggest node offers 2; " in result.stderr
    assert "; no node offers resource robot_arm (wanted by arm_agent_0); " in result.stderr
    connect_to(ray_cluster, namespace)
    assert named(namespace) == set() and state_actors(ray_cluster, namespace, alive_only=False) == {}

    from seedcore_cli.ray_boundary import connection

    connection.disconnect()
    dry = cli([*args, "--dry-run", "-o", "json"])
    assert dry.exit_code == 1
    report = json.loads(dry.stdout)
    assert report["ok"] is False and report["would_create"] == 7
    assert report["capacity"]["ok"] is False and len(report["capacity"]["shortfalls"]) == 3
    lines = {line["resource"]: line for line in report["capacity"]["resources"]}
    assert (lines["CPU"]["asked"], lines["CPU"]["total"], lines["CPU"]["fits"]) == (8.07, 2, False)
    assert (lines["robot_arm"]["to_create"], lines["robot_arm"]["available"]) == (1, 0)
    assert {a["name"]: a["options"]["num_cpus"] for a in report["actors"]}["big_agent_0"] == 8

    connection.disconnect()
    table = cli([*args, "--dry-run"])
    assert table.exit_code == 1
    assert "Capacity: asked vs offered" in table.stdout and "cpu=8 restarts=-1" in table.stdout
    assert "Would not fit: big_agent_0 needs 8 CPU, the biggest node offers 2" in table.stderr
    connect_to(ray_cluster, namespace)
    assert named(namespace) == set()


def test_actors_that_exist_hold_their_share_and_only_new_ones_need_free_capacity(
        cli, ray_cluster, namespace, tmp_path, organism_cleanup):
    two = options_config(tmp_path / "two.yaml", [("heavy", 2, "{num_cpus: 0.6}")])
    first = cli([*base(ray_cluster, namespace), "bootstrap", "--config", str(two), "-o", "json"])
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["created"] == 6
    connect_to(ray_cluster, namespace)
    assert {n: r.required_resources["CPU"] for n, r in state_actors(ray_cluster, namespace).items()
            if n.startswith("heavy_agent")} == {"heavy_agent_0": 0.6, "heavy_agent_1": 0.6}

    from seedcore_cli.ray_boundary import connection

    connection.disconnect()
    again = cli([*base(ray_cluster, namespace), "bootstrap", "--config", str(two), "-o", "json"])
    assert again.exit_code == 0, again.stderr  # 1.24 CPU held, 0.76 free: nothing more is needed
    (cpu,) = json.loads(again.stdout)["capacity"]["resources"]
    assert (cpu["asked"], cpu["to_create"], cpu["fits"]) == (1.24, 0, True)

    connection.disconnect()
    four = options_config(tmp_path / "four.yaml", [("heavy", 4, "{num_cpus: 0.6}")])
    more = cli([*base(ray_cluster, namespace), "bootstrap", "--config", str(four)])
    assert more.exit_code == 1
    assert "2 agents need 1.2 CPU, the cluster offers 0.76 (of 2; the rest is in use)" in more.stderr
    connect_to(ray_cluster, namespace)
    assert named(namespace) == {*SINGLETONS, "heavy", "heavy_agent_0", "heavy_agent_1"}


def test_seedcore_environment_variables_set_options_and_bad_values_exit_2_before_connecting(
        cli, ray_cluster, namespace, tmp_path, organism_cleanup):
    from seedcore_cli.ray_boundary import connection

    cfg = write_config(tmp_path / "one.yaml", [("env_organ", "Utility", 1)])
    args = [*base(ray_cluster, namespace), "bootstrap", "--config", str(cfg), "-o", "json"]
    for variable, value, words in [
            ("SEEDCORE_AGENT_CPU", "lots", "SEEDCORE_AGENT_CPU='lots' is not usable as num_cpus"),
            ("SEEDCORE_ORGAN_MAX_RESTARTS", "-5", "SEEDCORE_ORGAN_MAX_RESTARTS='-5' is not usable as max_restarts"),
            ("SEEDCORE_ACTOR_LIFETIME", "non_detached", "they are always 'detached'")]:
        bad = cli(args, env={variable: value})
        assert bad.exit_code == 2 and bad.stdout == "", (variable, bad.stderr)
        assert bad.stderr.startswith(f"Error: {variable}=") and words in bad.stderr, bad.stderr
        assert connection.current() is None

    good = cli(args, env={"SEEDCORE_AGENT_CPU": "0.05", "SEEDCORE_ORGAN_MAX_RESTARTS": "0"})
    assert good.exit_code == 0, good.stderr
    options = {a["name"]: a["options"] for a in json.loads(good.stdout)["actors"]}
    assert options["env_organ"]["max_restarts"] == 0 and options["env_organ_agent_0"]["num_cpus"] == 0.05
    rows = state_actors(ray_cluster, namespace)
    assert rows["env_organ_agent_0"].required_resources == {"CPU": 0.05}
    import ray

    organ = ray.get_actor("env_organ", namespace=namespace)
    ray.kill(organ, no_restart=False)  # max_restarts 0: it stays dead
    assert wait_until(lambda: state_actors(ray_cluster, namespace, alive_only=False)["env_organ"].state == "DEAD")


def test_the_capacity_check_reads_the_cluster_through_ray_client_too(ray_cluster, namespace, tmp_path):
    cfg = options_config(tmp_path / "big.yaml", [("big", 1, "{num_cpus: 8}")])
    result = run_client(["--address", ray_cluster.client_address, "--namespace", namespace, "bootstrap",
                         "--dry-run", "--config", str(cfg), "-o", "json"])
    assert result.returncode == 1, result.stderr
    capacity = json.loads(result.stdout)["capacity"]
    assert "big_agent_0 needs 8 CPU, the biggest node offers 2" in capacity["shortfalls"]
    assert [line["resource"] for line in capacity["resources"]] == ["CPU"]
    assert capacity["resources"][0]["total"] == 2
