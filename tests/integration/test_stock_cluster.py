"""The suite's cluster is the shape operators run: Ray only, no seedcore, driver outside the checkout.

If these fail, every other test may be passing for the wrong reason (a cluster that imports
seedcore_cli from the checkout or from seedcore's own environment).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from support import ray_envs
from support.heads import connect_to, run_client, run_seedcore
from support.organism import state_actors

CHECKOUT = Path(__file__).resolve().parents[2]


def _on_cluster(fn):
    import ray

    return ray.get(ray.remote(num_cpus=0)(fn).remote(), timeout=60)


def test_the_session_cluster_cannot_import_seedcore(ray_cluster, namespace):
    connect_to(ray_cluster, namespace)
    # A lambda travels by value: it runs on a worker of the head's own environment.
    seen = _on_cluster(lambda: (__import__("sys").executable,
                                __import__("importlib.util").util.find_spec("seedcore_cli") is None,
                                __import__("ray").__version__))
    executable, cannot_import, version = seen
    assert cannot_import, f"the cluster can import seedcore_cli (worker {executable})"
    assert executable.startswith(str(ray_envs.ROOT)), executable
    assert version == ray_envs.installed_ray_version()


def test_the_tests_run_outside_the_checkout():
    assert not Path(os.getcwd()).resolve().is_relative_to(CHECKOUT)


def test_bootstrap_status_and_teardown_work_on_a_stock_cluster_in_both_modes(ray_cluster, namespace,
                                                                            organism_cleanup):
    for address, run in ((ray_cluster.gcs_address, run_seedcore), (ray_cluster.client_address, run_client)):
        base = ["--address", address, "--namespace", namespace]
        boot = run([*base, "bootstrap", "-o", "json"])
        assert boot.returncode == 0, boot.stderr
        status = run([*base, "organism", "status", "-o", "json"])
        assert status.returncode == 0, status.stdout + status.stderr
        health = json.loads(status.stdout)
        assert health["healthy"] is True
        assert "__ray_call__" not in status.stdout
        down = run([*base, "organism", "teardown", "--yes", "--include-singletons"])
        assert down.returncode == 0, down.stderr
        connect_to(ray_cluster, namespace)
        assert state_actors(ray_cluster, namespace) == {}
        from seedcore_cli.ray_boundary import connection

        connection.disconnect()
