"""diagnose as a library, in a process that already holds a Ray connection of its own."""

from __future__ import annotations

import logging

from seedcore_cli.diagnose import FAIL, OK, diagnose


def test_library_caller_that_already_called_ray_init_with_another_namespace(ray_cluster, namespace):
    import ray

    from seedcore_cli import connection

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
