"""Helpers for the singleton and organism tests: look with Ray's own API, clean up.

Every test kills what it created (the session cluster is shared); `organism_cleanup` does it by
namespace, by handle, never by process name.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support.heads import connect_to


def named(namespace: str) -> set[str]:
    import ray

    return {e["name"] for e in ray.util.list_named_actors(all_namespaces=True) if e["namespace"] == namespace}


def state_actors(cluster, namespace: str, alive_only: bool = True) -> dict[str, object]:
    """name -> ActorState from Ray's State API (the dashboard), ALIVE ones unless asked otherwise."""
    from ray.util.state import list_actors

    rows = list_actors(address=cluster.dashboard_url, filters=[("ray_namespace", "=", namespace)],
                       detail=True, limit=10_000, raise_on_missing_output=False)
    return {row.name: row for row in rows if row.state == "ALIVE" or not alive_only}


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def kill_namespace(namespace: str) -> None:
    import ray

    for name in named(namespace):
        try:
            ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
        except ValueError:
            pass


def write_config(path: Path, organs: list[tuple[str, str, int]]) -> Path:
    lines = ["seedcore:", "  organism:", "    organ_types:"]
    for organ_id, organ_type, count in organs:
        lines += [f"      - id: {organ_id}", f"        type: {organ_type}",
                  f"        description: test organ {organ_id}", f"        agent_count: {count}",
                  "        task_types: [general_query]"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def organism_cleanup(ray_cluster, namespace):
    """After the test: kill every named actor left in the test's namespace on the session cluster."""
    yield
    from seedcore_cli.ray_boundary import connection

    current = connection.current()
    if current is not None and current.resolved_address not in (ray_cluster.gcs_address,):
        return  # the test talked to another cluster; it cleans up after itself
    connect_to(ray_cluster, namespace)
    kill_namespace(namespace)
