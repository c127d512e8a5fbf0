"""Teardown never reports a success it did not verify: every killed actor is confirmed DEAD through
the State API (by actor id), an actor that dies on its own meanwhile is confirmed gone, one whose
id cannot be read is reported and not killed, and one that survives ray.kill fails the command."""

from __future__ import annotations

import json

import pytest
import ray
from support.heads import connect_to
from support.organism import state_actors, wait_until, write_config

from seedcore_cli.organism.manager import (
    ALREADY_GONE,
    ID_UNKNOWN,
    KILLED,
    STILL_ALIVE,
    OrganismManager,
    TeardownIncomplete,
    raise_if_incomplete,
)
from seedcore_cli.ray_boundary.cluster import RayCluster


@pytest.fixture
def organism(cli, ray_cluster, namespace, tmp_path, organism_cleanup):
    config = write_config(tmp_path / "organism.yaml", [("organ_t", "Utility", 2)])
    result = cli(["--address", ray_cluster.gcs_address, "--namespace", namespace, "bootstrap",
                  "--config", str(config), "-o", "json"])
    assert result.exit_code == 0, result.stderr
    return OrganismManager(connect_to(ray_cluster, namespace))


def test_every_kill_is_confirmed_dead_by_actor_id_and_a_death_meanwhile_counts_as_gone(
        organism, ray_cluster, namespace):
    plan = organism.plan_teardown()
    assert [item.name for item in plan] == ["organ_t_agent_0", "organ_t_agent_1", "organ_t"]
    # An actor killed by someone else between the plan and the kill (during teardown).
    ray.kill(plan[0].handle, no_restart=True)
    assert wait_until(lambda: "organ_t_agent_0" not in state_actors(ray_cluster, namespace))
    done = organism.teardown(plan, wait=10)
    assert [(item.name, item.action) for item in done] == [
        ("organ_t_agent_0", ALREADY_GONE), ("organ_t_agent_1", KILLED), ("organ_t", KILLED)]
    assert {item.verified for item in done if item.killed} == {"State API: DEAD"}
    raise_if_incomplete(done, 10)  # nothing failed
    every = state_actors(ray_cluster, namespace, alive_only=False)
    assert all(every[item.name].state == "DEAD" for item in done)


def test_an_actor_that_survives_its_kill_fails_the_teardown(organism, ray_cluster, namespace, monkeypatch):
    plan = organism.plan_teardown()
    # The fault: ray.kill returns but the actor lives on (a lost kill request).
    monkeypatch.setattr(RayCluster, "kill", lambda self, handle: None)
    done = organism.teardown(plan, wait=1.5)
    assert {item.action for item in done} == {STILL_ALIVE} and not any(item.verified for item in done)
    with pytest.raises(TeardownIncomplete) as caught:
        raise_if_incomplete(done, 1.5)
    assert caught.value.exit_code == 1
    assert "3 actor(s) not confirmed dead 1.5 s after ray.kill" in caught.value.one_line()
    assert set(state_actors(ray_cluster, namespace)) >= {"organ_t", "organ_t_agent_0", "organ_t_agent_1"}


def test_an_actor_whose_id_cannot_be_read_is_reported_and_left_alive(organism, ray_cluster, namespace):
    plan = organism.plan_teardown()
    plan[1].actor_id = ""  # what plan_teardown records when neither the handle nor the actor tells
    done = organism.teardown(plan, wait=10)
    assert [(item.name, item.action) for item in done] == [
        ("organ_t_agent_0", KILLED), ("organ_t_agent_1", ID_UNKNOWN), ("organ_t", KILLED)]
    with pytest.raises(TeardownIncomplete, match="not killed because their actor id could not be read: organ_t_agent_1"):
        raise_if_incomplete(done, 10)
    assert "organ_t_agent_1" in state_actors(ray_cluster, namespace)


def test_the_cli_shows_every_item_then_exits_1_when_a_kill_is_not_confirmed(
        cli, organism, ray_cluster, namespace, monkeypatch):
    monkeypatch.setattr(RayCluster, "kill", lambda self, handle: None)
    result = cli(["--address", ray_cluster.gcs_address, "--namespace", namespace,
                  "organism", "teardown", "--yes", "--timeout", "1.5", "-o", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert {actor["action"] for actor in report["actors"]} == {STILL_ALIVE} and report["killed"] == 0
    assert all(actor["actor_id"] for actor in report["actors"])
    assert "not confirmed dead" in result.stderr
