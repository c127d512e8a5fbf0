"""diagnose as a library, in a process that already holds a Ray connection of its own."""

from __future__ import annotations

import logging

from seedcore_cli.diagnose import FAIL, OK, diagnose

# Concurrent test clusters on one machine race for Ray Client's per-client server ports
# (23000-24000, picked by every cluster's proxier): "Starting Ray client server failed".
CLIENT_PORT_RACE = "Starting Ray client server failed"


def client_init(address: str, namespace: str, attempts: int = 3) -> None:
    """The simulated library caller's own Ray Client connection, retried past the port race."""
    import ray

    for attempt in range(attempts):
        try:
            ray.init(address, namespace=namespace, logging_level=logging.ERROR, log_to_driver=False)
            return
        except ConnectionAbortedError as err:
            ray.shutdown()
            if CLIENT_PORT_RACE not in str(err) or attempt == attempts - 1:
                raise


def test_library_caller_that_already_called_ray_init_with_another_namespace(ray_cluster, namespace):
    import ray

    from seedcore_cli.ray_boundary import connection

    ray.init(address=ray_cluster.gcs_address, namespace="caller-ns", logging_level=logging.ERROR,
             log_to_driver=False)
    try:
        report = diagnose(address=ray_cluster.gcs_address, namespace=namespace)
        conn = report.by_id("connection")
        assert conn.status == FAIL
        assert "outside seedcore" in conn.seen and "'caller-ns'" in conn.seen
        assert "ConnectionConflict" in conn.seen and "ray.shutdown()" in conn.hint
        ns = report.by_id("namespace")
        assert ns.status == FAIL
        assert "'caller-ns'" in ns.seen and repr(namespace) in ns.seen
        assert report.by_id("reachability").status == OK
        assert report.by_id("singletons").status == "skip"
        assert report.exit_code == 1
        # diagnose left the caller's connection alone and made none of its own.
        assert ray.is_initialized() and ray.get_runtime_context().namespace == "caller-ns"
        assert connection.current() is None
    finally:
        ray.shutdown()


def test_library_caller_through_the_cli_in_process(ray_cluster, namespace, cli):
    import json

    import ray

    ray.init(address=ray_cluster.gcs_address, namespace="caller-ns", logging_level=logging.ERROR,
             log_to_driver=False)
    try:
        result = cli(["--address", ray_cluster.gcs_address, "--namespace", namespace, "diagnose", "-o", "json"])
        found = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
        assert found["connection"]["status"] == "fail" and "'caller-ns'" in found["connection"]["seen"]
        assert found["namespace"]["status"] == "fail"
        assert result.exit_code == 1
    finally:
        ray.shutdown()


def test_library_caller_in_the_right_namespace_still_hears_connect_would_refuse(ray_cluster, namespace):
    import ray

    ray.init(address=ray_cluster.gcs_address, namespace=namespace, logging_level=logging.ERROR,
             log_to_driver=False)
    try:
        report = diagnose(address=ray_cluster.gcs_address, namespace=namespace)
        assert report.by_id("connection").status == FAIL
        assert report.by_id("namespace").status == OK
        assert report.exit_code == 1
    finally:
        ray.shutdown()


def test_library_caller_already_connected_through_ray_client(ray_cluster, namespace):
    """The "Ray Client is already connected" conflict, named before it happens."""
    import ray

    client_init(ray_cluster.client_address, "caller-ns")
    try:
        report = diagnose(address=ray_cluster.client_address, namespace=namespace)
        conn = report.by_id("connection")
        assert conn.status == FAIL
        assert f"Ray Client to {ray_cluster.client_address}" in conn.seen, conn.seen
        assert "outside seedcore" in conn.seen and "'caller-ns'" in conn.seen
        assert report.by_id("namespace").status == FAIL
        assert report.exit_code == 1
        assert ray.util.client.ray.is_connected()  # still the caller's, untouched
    finally:
        ray.shutdown()


def test_actors_in_an_anonymous_namespace(ray_cluster, namespace):
    """A service that called ray.init() without namespace= made the singletons where no one finds them."""
    import json

    import ray
    from support.heads import run_seedcore

    ray.init(address=ray_cluster.gcs_address, logging_level=logging.ERROR, log_to_driver=False)
    anonymous = ray.get_runtime_context().namespace

    class Tracker:
        def ping(self):
            return "pong"

    actor = ray.remote(num_cpus=0)(Tracker).options(name="miss_tracker", lifetime="detached").remote()
    try:
        assert ray.get(actor.ping.remote(), timeout=60) == "pong"
        result = run_seedcore(["--address", ray_cluster.gcs_address, "--namespace", namespace,
                               "diagnose", "-o", "json"])
        found = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
        ns = found["namespace"]
        assert ns["status"] == FAIL
        assert f"anonymous namespace {anonymous}" in ns["seen"] and "miss_tracker" in ns["seen"]
        assert "named namespace" in ns["hint"]
        assert result.returncode == 1
    finally:
        ray.kill(actor, no_restart=True)
        ray.shutdown()
