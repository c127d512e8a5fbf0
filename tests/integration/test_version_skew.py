"""Version skew, for real: a head on another Ray version (2.59.0, from its own environment).


A driver needs the cluster's exact Ray and Python, Ray Client the same Ray and Python minor.
Every command exits 3 naming both versions and that rule, in one line; diagnose's versions check
fails with both versions.
"""

from __future__ import annotations

import json

import pytest
from support import ray_envs
from support.heads import run_client, run_seedcore, start_head, stock_ray, stop_head

# The other end of pyproject's tested range (the nox session on 2.59 points back at 2.60).
OTHER_RAY = "2.59.0" if ray_envs.installed_ray_version() != "2.59.0" else "2.60.0"


@pytest.fixture(scope="module")
def old_head():
    process, cluster = start_head(ray_bin=stock_ray(OTHER_RAY))
    yield cluster
    stop_head(process)


def _newer(a: str, b: str) -> bool:
    return tuple(map(int, a.split("."))) > tuple(map(int, b.split(".")))


def addresses(cluster):
    return [(cluster.gcs_address, run_seedcore), (cluster.client_address, run_client)]


@pytest.mark.parametrize("command", [["info"], ["organism", "status"], ["actors", "list"], ["bootstrap"],
                                     ["organism", "teardown", "--yes"]])
def test_every_command_exits_3_naming_both_versions(old_head, command, namespace):
    here = ray_envs.installed_ray_version()
    for address, run in addresses(old_head):
        result = run(["--address", address, "--namespace", namespace, *command])
        assert result.returncode == 3, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        line = lines[0]
        assert "\x1b[" not in line and " object at 0x" not in line
        if run is run_client and _newer(OTHER_RAY, here):
            # A newer Ray Client server fails to read an older client's session setup before any
            # version check, and a Ray Client port does not tell its version: seedcore names ours.
            assert "could not set up this session" in line, line
            assert f"another Ray version than this seedcore (Ray {here}" in line, line
            continue
        assert f"runs Ray {OTHER_RAY}" in line and f"seedcore here has Ray {here}" in line, line
        assert "a driver needs the cluster's exact Ray and Python versions, Ray Client the same Ray" in line
        assert f"install ray[default]=={OTHER_RAY}" in line


def test_diagnose_versions_check_fails_with_both_versions(old_head, namespace):
    for address, run in addresses(old_head):
        result = run(["--address", address, "--namespace", namespace, "diagnose", "-o", "json"])
        assert result.returncode == 1
        if run is run_client and _newer(OTHER_RAY, ray_envs.installed_ray_version()):
            continue  # no versions to compare (see above); the connection check fails instead
        checks = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
        versions = checks["versions"]
        assert versions["status"] == "fail", (address, versions, checks.get("connection"))
        assert f"cluster Ray {OTHER_RAY}" in versions["seen"]
        assert f"local Ray {ray_envs.installed_ray_version()}" in versions["seen"]
