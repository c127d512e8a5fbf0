"""connect() and diagnose agree on version compatibility, one Python patch release apart.

The head runs from a Ray-only environment on Debian's own /usr/bin/python3.11 (3.11.2 on this
image) while the tests run on another 3.11 patch release. Ray refuses a driver by default
(RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL=patch) and accepts it with `minor`; Ray Client compares
major.minor only. seedcore's connect and diagnose's versions check must say the same in each case.
"""

from __future__ import annotations

import json
import os
import platform

import pytest
from support import ray_envs
from support.heads import run_seedcore, start_head, stop_head

MATCH_LEVEL = "RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL"


@pytest.fixture(scope="module")
def skewed_head():
    python = ray_envs.DISTRIBUTION_PYTHON
    if not os.path.exists(python):
        pytest.skip(f"{python} is not installed")
    if ray_envs.python_version_of(python) == platform.python_version():
        pytest.skip(f"{python} is the Python running the tests: no patch skew to test")
    process, cluster = start_head(ray_bin=ray_envs.ray_bin(ray_envs.installed_ray_version(), python))
    yield cluster
    stop_head(process)


def _versions_check(address: str, env: dict[str, str]) -> dict:
    result = run_seedcore(["--address", address, "diagnose", "-o", "json"], env=env, timeout=180)
    checks = {check["id"]: check for check in json.loads(result.stdout)["checks"]}
    return checks["versions"]


@pytest.mark.parametrize("level", ["patch", "minor"])
def test_driver_connect_and_diagnose_agree(skewed_head, level):
    env = {MATCH_LEVEL: level}
    info = run_seedcore(["--address", skewed_head.gcs_address, "info", "-o", "json"], env=env, timeout=180)
    versions = _versions_check(skewed_head.gcs_address, env)
    if level == "patch":  # Ray's default: a driver needs the exact same Python
        assert info.returncode == 3 and "Python" in info.stderr, info.stderr
        assert len(info.stderr.strip().splitlines()) == 1, info.stderr
        assert versions["status"] == "fail", versions
    else:  # minor: Ray accepts it, and so does diagnose (a warning at most, never a failure)
        assert info.returncode == 0, info.stderr
        assert versions["status"] in ("ok", "warn"), versions


def test_ray_client_compares_the_minor_only(skewed_head):
    info = run_seedcore(["--address", skewed_head.client_address, "info", "-o", "json"], timeout=240)
    versions = _versions_check(skewed_head.client_address, {})
    assert info.returncode == 0, info.stderr
    assert versions["status"] in ("ok", "warn"), versions
