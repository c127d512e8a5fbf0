"""Many seedcore commands at once against one cluster, as CI systems, cron smoke checks and
several operators produce them: all succeed, in driver and Ray Client mode.

Ray Client starts a dedicated server process on the head per session; under concurrency some
fail to start ("could not start a server for this client"), and seedcore retries those within its
connect budget. Kept small here (the suite runs on 2 cores); bench/ has the heavy version.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.heads import SEEDCORE, connect_to, run_seedcore
from support.organism import state_actors


def _many(argvs: list[list[str]], timeout: float = 300) -> list[subprocess.CompletedProcess]:
    """Start every command at once (one process each) and wait for all of them."""
    import os

    env = dict(os.environ)  # seedcore's default connect budget (60 s)
    processes = [subprocess.Popen(SEEDCORE + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env, stdin=subprocess.DEVNULL) for argv in argvs]
    with ThreadPoolExecutor(len(processes)) as pool:
        outputs = list(pool.map(lambda p: p.communicate(timeout=timeout), processes))
    return [subprocess.CompletedProcess(p.args, p.returncode, out, err) for p, (out, err) in zip(processes, outputs)]


def _assert_all_ok(results: list[subprocess.CompletedProcess]) -> None:
    failed = [(r.returncode, r.stderr.strip()[-300:]) for r in results if r.returncode != 0]
    assert not failed, f"{len(failed)} of {len(results)} failed: {failed}"


@pytest.fixture
def healthy_namespace(ray_cluster, namespace, organism_cleanup):
    boot = run_seedcore(["--address", ray_cluster.gcs_address, "--namespace", namespace, "bootstrap"])
    assert boot.returncode == 0, boot.stderr
    return namespace


# On 2 cores, 16 CLIs plus the head's per-client servers starve the actors for seconds: the
# per-call bound is raised so that "healthy" is about the organism, not the test machine.
STATUS = ["organism", "status", "--timeout", "30", "-o", "json"]


def test_16_driver_and_8_ray_client_status_checks_at_once(ray_cluster, healthy_namespace):
    drivers = [["--address", ray_cluster.gcs_address, "--namespace", healthy_namespace, *STATUS]] * 16
    results = _many(drivers)
    _assert_all_ok(results)
    assert all(json.loads(r.stdout)["healthy"] is True for r in results)
    clients = [["--address", ray_cluster.client_address, "--namespace", healthy_namespace, *STATUS]] * 8
    results = _many(clients)
    _assert_all_ok(results)
    assert all(json.loads(r.stdout)["healthy"] is True for r in results)


@pytest.mark.parametrize("mode", ["driver", "client"])
def test_4_bootstraps_of_one_new_namespace_make_one_actor_per_name(ray_cluster, namespace, organism_cleanup, mode):
    address = ray_cluster.gcs_address if mode == "driver" else ray_cluster.client_address
    results = _many([["--address", address, "--namespace", namespace, "bootstrap", "-o", "json"]] * 4)
    _assert_all_ok(results)
    created = sum(json.loads(r.stdout)["created"] for r in results)
    assert created == 9, created  # each actor created by exactly one of the four
    connect_to(ray_cluster, namespace)
    alive = state_actors(ray_cluster, namespace)
    assert len(alive) == 9
    import ray

    live = [a for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == namespace]
    assert len(live) == 9 and len({a["name"] for a in live}) == 9


def test_4_ray_client_bootstraps_of_distinct_namespaces(ray_cluster):
    import uuid

    namespaces = [f"t-{uuid.uuid4().hex[:10]}" for _ in range(4)]
    try:
        results = _many([["--address", ray_cluster.client_address, "--namespace", ns, "bootstrap", "-o", "json"]
                         for ns in namespaces])
        _assert_all_ok(results)
        for ns in namespaces:
            connect_to(ray_cluster, ns)
            assert len(state_actors(ray_cluster, ns)) == 9
            from seedcore_cli.ray_boundary import connection

            connection.disconnect()
    finally:
        from support.organism import kill_namespace

        for ns in namespaces:
            connect_to(ray_cluster, ns)
            kill_namespace(ns)
            from seedcore_cli.ray_boundary import connection

            connection.disconnect()
