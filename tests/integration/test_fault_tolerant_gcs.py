"""The organism on a GCS fault-tolerant cluster (Redis-backed GCS, as KubeRay's
gcsFaultToleranceOptions runs the ha/ overlay of deploy/kubernetes, on that overlay's own Redis
container with a password): the head dies and comes back, the detached actors on the worker
survive, and seedcore sees the organism healthy again without anything re-created.

Skipped when redis-server is not installed (.ci/run installs Debian's package).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid

import pytest
from support.fault_tolerant import fault_tolerant_cluster, ha_gcs_options, ha_redis
from support.heads import run_seedcore
from support.organism import write_config

ORGANISM = [("organ_a", "Cognitive", 2)]


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    """ha/redis.yaml's Redis, with a password as `openssl rand -hex 32` makes one (docs/kubernetes.md)."""
    server = ha_redis(tmp_path_factory.mktemp("redis"), secrets.token_hex(32))
    if server is None:
        pytest.skip("redis-server is not installed (apt install redis-server)")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ft_cluster(tmp_path_factory, redis):
    cluster = fault_tolerant_cluster(tmp_path_factory.mktemp("ft") / "cluster", redis)
    try:
        yield cluster
    finally:
        cluster.stop()


def seedcore(cluster, namespace: str, *args: str) -> tuple[int, dict | None, str]:
    result = run_seedcore(["--address", cluster.gcs_address, "--namespace", namespace, *args, "-o", "json"])
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else None, result.stderr


def test_a_head_restart_keeps_the_organism(ft_cluster, tmp_path):
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    config = write_config(tmp_path / "organism.yaml", ORGANISM)
    code, report, err = seedcore(ft_cluster, namespace, "bootstrap", "--config", str(config))
    assert code == 0 and report["created"] == 6, err  # 3 singletons, 1 organ, 2 agents
    before = {row["name"]: row["actor_id"] for row in ft_cluster.actors(namespace) if row["state"] == "ALIVE"}

    ft_cluster.kill_head()
    code, _, err = seedcore(ft_cluster, namespace, "organism", "status", "--config", str(config), "--timeout", "3")
    assert code == 3 and ft_cluster.gcs_address in err and len(err.strip().splitlines()) == 1, err  # one line

    ft_cluster.restart_head()
    deadline = time.monotonic() + 90  # the worker's raylet reconnects within Ray's 60 s window
    while True:
        code, health, err = seedcore(ft_cluster, namespace, "organism", "status", "--config", str(config))
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert code == 0 and health["healthy"] is True, (health, err)
    after = {row["name"]: row["actor_id"] for row in ft_cluster.actors(namespace) if row["state"] == "ALIVE"}
    assert after == before  # the same actors, ALIVE again: nothing was re-created


def test_the_gcs_keeps_its_tables_in_the_overlays_storage_namespace(ft_cluster, redis):
    """The state the restarted head reloads is in that Redis, under the overlay's
    externalStorageNamespace, behind the password (Ray's GCS authenticated with it)."""
    storage = ha_gcs_options()["externalStorageNamespace"]
    keys = redis.cli("--scan").stdout.split()
    assert keys and all(key.startswith(f"RAY{storage}@") for key in keys), keys
    assert "NOAUTH" in redis.cli("--scan", password="").stdout + redis.cli("--scan", password="").stderr
