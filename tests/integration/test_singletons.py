"""The singleton actors: their behaviour, get-or-create against a real cluster, and their health.

Effects are checked with Ray's own API (ray.get_actor, the State API), not only seedcore's word.
"""

from __future__ import annotations

import time

import pytest
from support.heads import connect_to
from support.organism import named, state_actors

from seedcore_cli.errors import ActorConflict
from seedcore_cli.organism import singletons

# --- the classes themselves (plain Python) ---------------------------------------------------


def test_mw_store_counts_ranks_and_evicts_the_coldest():
    store = singletons.MwStore(max_items=3)
    assert store.incr("a") == 1 and store.incr("a", delta=4) == 5
    store.incr("b", 2)
    store.incr("c", 1)
    store.incr("d", 3)  # full: evicts the coldest, c (1)
    assert dict(store.topn(10)) == {"a": 5, "d": 3, "b": 2}
    assert store.topn(2) == [("a", 5), ("d", 3)] and store.size() == 3
    store.incr("e")  # evicts b (2), the coldest now
    assert "b" not in dict(store.topn(10)) and store.size() == 3


def test_mw_store_among_equals_evicts_the_oldest():
    store = singletons.MwStore(max_items=2)
    store.incr("old")
    store.incr("new")
    store.incr("newest")
    assert dict(store.topn(5)) == {"new": 1, "newest": 1}


def test_mw_store_default_bound_is_ten_thousand():
    assert singletons.MwStore().max_items == 10_000
    with pytest.raises(ValueError):
        singletons.MwStore(max_items=0)


def test_miss_tracker_and_shared_cache():
    tracker = singletons.MissTracker()
    for item in ["x", "y", "x", "z", "x", "y"]:
        tracker.incr(item)
    assert tracker.get_top_n(2) == [("x", 3), ("y", 2)]
    cache = singletons.SharedCache()
    assert cache.get("k") is None and cache.set("k", {"v": 1})
    assert cache.get("k") == {"v": 1} and cache.get_all() == {"k": {"v": 1}}
    assert cache.delete("k") and not cache.delete("k") and cache.get_all() == {}


def test_singleton_names_and_classes():
    assert singletons.SINGLETONS == {"miss_tracker": "MissTracker", "shared_cache": "SharedCache",
                                     "mw": "MwStore"}


def test_singletons_and_the_config_import_no_ray():
    import subprocess
    import sys

    code = ("import sys, seedcore_cli.organism.singletons, seedcore_cli.organism.config, seedcore_cli.cli.organism; "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_actor_class_resolution_order_and_the_seedcore_marker():
    from types import SimpleNamespace

    from seedcore_cli.organism import inventory
    from seedcore_cli.organism.model import actor_class, is_seedcore_actor
    from seedcore_cli.ray_boundary.ray_compat import handle_class

    driver = SimpleNamespace(_ray_actor_creation_function_descriptor=SimpleNamespace(
        class_name="Organ", module_name="seedcore_cli.organism.actors"))
    client = SimpleNamespace()  # a Ray Client handle carries no descriptor
    row = inventory.row_from_api({"name": "x", "class_name": "FromState"})
    assert actor_class({"class": "Probed"}, handle_class(driver), row) == "Probed"
    assert actor_class(None, handle_class(driver), row) == "Organ"
    assert actor_class(None, handle_class(client), row) == "FromState"
    assert actor_class(None, handle_class(client)) is None
    assert is_seedcore_actor({"class": "Agent", "creator": ""}, handle_class(client))  # a SeedcoreActor, however made
    assert not is_seedcore_actor({"class": "Agent", "creator": None}, handle_class(driver))  # the probe has the last word
    assert is_seedcore_actor(None, handle_class(driver)) and not is_seedcore_actor(None, handle_class(client))
    foreign = SimpleNamespace(_ray_actor_creation_function_descriptor=SimpleNamespace(
        class_name="Agent", module_name="test_module"))
    assert not is_seedcore_actor(None, handle_class(foreign))


# --- on the cluster --------------------------------------------------------------------------


def test_ensure_creates_detached_actors_once_and_they_work(ray_cluster, namespace, organism_cleanup):
    import ray

    conn = connect_to(ray_cluster, namespace)
    first = singletons.ensure(conn)
    assert [(r.name, r.action, r.state) for r in first] == [
        ("miss_tracker", "created", "ALIVE"), ("shared_cache", "created", "ALIVE"), ("mw", "created", "ALIVE")]
    rows = state_actors(ray_cluster, namespace)
    assert {name: (row.class_name, row.is_detached, row.required_resources.get("CPU", 0))
            for name, row in rows.items()} == {
        "miss_tracker": ("MissTracker", True, 0.01), "shared_cache": ("SharedCache", True, 0.01),
        "mw": ("MwStore", True, 0.01)}
    assert {r.name: r.actor_id for r in first} == {name: row.actor_id for name, row in rows.items()}

    again = singletons.ensure(conn)
    assert [r.action for r in again] == ["exists"] * 3
    assert [r.actor_id for r in again] == [r.actor_id for r in first]

    mw = ray.get_actor("mw", namespace=namespace)
    ray.get([mw.incr.remote("hot", 5), mw.incr.remote("warm", 2), mw.incr.remote("hot")])
    assert ray.get(mw.topn.remote(2)) == [("hot", 6), ("warm", 2)]
    assert ray.get(mw.ping.remote())["class"] == "MwStore"
    cache = ray.get_actor("shared_cache", namespace=namespace)
    ray.get(cache.set.remote("k", [1, 2]))
    assert ray.get(cache.get_all.remote()) == {"k": [1, 2]}
    tracker = ray.get_actor("miss_tracker", namespace=namespace)
    ray.get([tracker.incr.remote("a"), tracker.incr.remote("a"), tracker.incr.remote("b")])
    assert ray.get(tracker.get_top_n.remote(1)) == [("a", 2)]


def test_a_name_held_by_another_class_is_a_conflict_and_nothing_is_created(ray_cluster, namespace,
                                                                          organism_cleanup):
    import ray

    conn = connect_to(ray_cluster, namespace)

    class Impostor:
        def value(self):
            return 42

    impostor = ray.remote(Impostor).options(name="shared_cache", namespace=namespace,
                                            lifetime="detached", num_cpus=0).remote()
    assert ray.get(impostor.value.remote()) == 42
    with pytest.raises(ActorConflict) as caught:
        singletons.ensure(conn)
    text = caught.value.message
    assert "'shared_cache'" in text and "Impostor" in text and "expected SharedCache" in text
    assert repr(namespace) in text
    assert named(namespace) == {"shared_cache"}  # nothing else was created
    assert ray.get(impostor.value.remote()) == 42  # untouched


def test_singleton_health_missing_healthy_wrong_class_silent_and_not_detached(ray_cluster, namespace,
                                                                             organism_cleanup):
    """The one health model (organism.status) as diagnose reads it for the singletons."""
    import ray
    from support.organism import wait_until

    from seedcore_cli.organism import status

    def health(timeout):
        return {item.name: item for item in status.collect(conn, timeout=timeout, organs=False).singletons}

    conn = connect_to(ray_cluster, namespace)
    before = health(3)
    assert [(n, h.state, h.healthy) for n, h in before.items()] == [
        ("miss_tracker", "missing", False), ("shared_cache", "missing", False), ("mw", "missing", False)]

    singletons.ensure(conn)
    healthy = health(5)
    assert all(h.healthy and h.detached is True and h.ping_ms is not None for h in healthy.values()), healthy
    rows = state_actors(ray_cluster, namespace)
    assert {n: h.node_id for n, h in healthy.items()} == {n: r.node_id for n, r in rows.items()}
    assert healthy["mw"].node_ip == "127.0.0.1"

    # mw busy in a long call: no answer within the timeout; shared_cache replaced by another class;
    # miss_tracker replaced by a non-detached one (it would die with this test's job).
    mw = ray.get_actor("mw", namespace=namespace)
    mw.__ray_call__.remote(lambda self: time.sleep(30))
    for name in ("shared_cache", "miss_tracker"):
        ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
    assert wait_until(lambda: not {"shared_cache", "miss_tracker"} & named(namespace))

    ray.remote(singletons.MissTracker).options(name="shared_cache", namespace=namespace,
                                               lifetime="detached", num_cpus=0).remote()
    attached = ray.remote(singletons.MissTracker).options(name="miss_tracker", namespace=namespace,
                                                          num_cpus=0).remote()
    ray.get(attached.ping.remote(), timeout=60)
    after = health(2)
    assert after["mw"].state == "unresponsive" and after["mw"].class_name == "MwStore"
    assert after["mw"].error == "no answer within 2 s"
    assert after["shared_cache"].state == "conflict"
    assert after["shared_cache"].error == "held by a MissTracker, expected SharedCache"
    assert after["miss_tracker"].state == "not detached" and after["miss_tracker"].detached is False
    ray.kill(attached, no_restart=True)
