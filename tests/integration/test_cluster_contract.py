"""RayCluster against a real head: Ray's errors come out as the boundary's table says, and the
FakeCluster of tests/unit answers the same way for the same situations."""

from __future__ import annotations

import time

import pytest
from support.heads import connect_to
from support.organism import wait_until

from seedcore_cli.errors import ActorCallFailed, ActorDied, CallTimedOut, NameTaken
from seedcore_cli.organism.actors import Agent, probe
from seedcore_cli.ray_boundary.cluster import Call, RayCluster, translate


@pytest.fixture
def cluster(ray_cluster, namespace) -> RayCluster:
    return RayCluster(connect_to(ray_cluster, namespace))


def _agent(cluster: RayCluster, name: str, namespace: str):
    return cluster.create(Agent, name=name, namespace=namespace,
                          options={"lifetime": "detached", "num_cpus": 0, "max_restarts": 0},
                          kwargs={"agent_id": name, "organ_id": "o", "organ_type": "Utility", "creator": "me"})


def test_a_killed_actor_answers_died_and_its_name_is_released(cluster, namespace):
    handle = _agent(cluster, "a0", namespace)
    first = cluster.call_all({"a0": Call(handle, probe)}, 60)
    assert first.results["a0"]["class"] == "Agent" and first.results["a0"]["creator"] == "me"
    assert cluster.actor_id(handle) == first.results["a0"]["actor_id"]
    assert cluster.handle_class(handle) == ("seedcore_cli.organism.actors", "Agent")
    cluster.kill(handle)

    def call_after_kill():
        # ray.kill only asks the GCS: on a busy machine a call made at once can still reach the
        # actor before it dies (CI saw it answer), so ask until the answer is an error
        answer = cluster.call_all({"a0": Call(handle, "get_status")}, 30)
        return answer.errors.get("a0")

    error = wait_until(call_after_kill, timeout=60, interval=0.5)
    assert isinstance(error, ActorDied) and "died" in error.message
    assert wait_until(lambda: "a0" not in cluster.named_actors(namespace))
    assert cluster.lookup("a0", namespace) is None


def test_get_if_exists_returns_the_same_actor(cluster, namespace):
    first = _agent(cluster, "a1", namespace)
    second = _agent(cluster, "a1", namespace)
    try:
        assert cluster.actor_id(first) == cluster.actor_id(second)
        assert cluster.named_actors(namespace) == {"a1"}
    finally:
        cluster.kill(first)


def test_an_exception_in_the_actor_is_a_plain_call_failure_and_a_slow_call_stays_pending(cluster, namespace):
    handle = _agent(cluster, "a2", namespace)
    try:
        bad = cluster.call_all({"x": Call(handle, lambda self: 1 / 0)}, 30)
        assert type(bad.errors["x"]) is ActorCallFailed and "ZeroDivisionError" in bad.errors["x"].message
        started = time.monotonic()
        slow = cluster.call_all({"y": Call(handle, lambda self: time.sleep(20))}, 1.0)
        assert slow.pending == {"y"} and time.monotonic() - started < 10
    finally:
        cluster.kill(handle)


def test_the_table_maps_rays_own_exception_types():
    import ray

    assert isinstance(translate(ray.exceptions.GetTimeoutError("late")), CallTimedOut)
    assert isinstance(translate(ValueError("Actor with name 'x' already exists in the namespace ns")), NameTaken)
    assert type(translate(ConnectionError("gone"))) is ActorCallFailed
    assert type(translate(RuntimeError("boom"))) is ActorCallFailed


def test_nodes_and_resources_describe_the_head(cluster):
    nodes = cluster.nodes()
    assert any(info.is_head and info.alive for info in nodes.values())
    free = cluster.available_resources()
    assert all(isinstance(amount, float | int) for amount in free.values())
