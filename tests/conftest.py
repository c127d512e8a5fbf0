"""Test harness: one real loopback Ray head for the session, started and stopped by its pid.

The head is the shape operators deploy: it runs from a virtual environment that holds Ray and
nothing of seedcore (`ray_envs`), and the tests run from a directory outside the checkout,
because Ray puts the driver's working directory on the workers' sys.path. Code that only works
when the cluster can import seedcore_cli fails here, as it would on KubeRay.

Every test talks to 127.0.0.1 only. Tests that need Ray take the `ray_cluster` fixture; each
test gets its own namespace. seedcore's connection is dropped after every test so the next one
connects afresh (connect() refuses a second target while connected, by design).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import ray_envs
from owned_process import stop_ray_start

from seedcore_cli.local_state import LoopbackHead  # no ray import

# Before anything imports ray: keep every Ray address on loopback. Ray reads this when it is
# imported; without it, 127.0.0.1 is rewritten to the network IP and a driver hangs.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
# The user's own settings must not leak into tests.
for _key in ("RAY_ADDRESS", "SEEDCORE_NS", "RAY_NAMESPACE", "RAY_HOST", "RAY_PORT",
             "SEEDCORE_ORGANISM_CONFIG", "SEEDCORE_DEBUG", "RAY_API_SERVER_ADDRESS"):
    os.environ.pop(_key, None)
# seedcore's local-cluster state for this test session only, never ~/.seedcore.
os.environ["SEEDCORE_STATE_DIR"] = tempfile.mkdtemp(prefix="seedcore-test-state-")
# Token auth and TLS only where a test asks for them, never from the user's shell.
for _key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_USE_TLS"):
    os.environ.pop(_key, None)
# Outside the checkout: a driver's working directory ends up on the workers' sys.path.
TEST_CWD = tempfile.mkdtemp(prefix="seedcore-test-cwd-")
os.chdir(TEST_CWD)

LOOPBACK = "127.0.0.1"
SEEDCORE = [sys.executable, "-m", "seedcore_cli"]


def free_port() -> int:
    """A free loopback port outside Ray's worker range (10002-19999): the one helper users' code uses."""
    from seedcore_cli.local_cluster import free_port as free

    return free()


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"port {port} did not open within {timeout} s")


@dataclass(frozen=True)
class RayCluster(LoopbackHead):  # gcs_address, client_address, dashboard_url
    pid: int
    gcs_port: int
    client_port: int
    dashboard_port: int


def stock_ray(version: str | None = None) -> str:
    """The `ray` command of an environment with only Ray (`version`, default the installed one)."""
    return ray_envs.ray_bin(version or ray_envs.installed_ray_version())


def start_head(extra: list[str] | None = None, num_cpus: int = 2, ray_bin: str | None = None,
               env: dict[str, str] | None = None, dashboard_token: str | None = None,
               dashboard_port: int | None = None) -> tuple[subprocess.Popen, RayCluster]:
    """`ray start --head --block` on loopback in its own session, from a Ray-only environment
    unless `ray_bin` says otherwise; returns (process, ports)."""
    from seedcore_cli.local_cluster import head_command

    gcs, client, dashboard = free_port(), free_port(), dashboard_port or free_port()
    command = head_command(ray_bin or stock_ray(), gcs, client, dashboard, num_cpus=num_cpus,
                           extra=extra or [])
    log = open(Path(os.environ["SEEDCORE_STATE_DIR"]) / f"head-{gcs}.log", "w")
    # Plain heads say so: with the mode unset, `ray start` turns token auth on whenever it finds a
    # token (a developer's ~/.ray/auth_token, say).
    head_env = {**os.environ, "RAY_AUTH_MODE": "disabled", **(env or {})}
    head_env.pop("PYTHONPATH", None)  # a Ray-only environment: nothing of seedcore on its path
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=head_env,
                               stdin=subprocess.DEVNULL, start_new_session=True, cwd=TEST_CWD)
    cluster = RayCluster(process.pid, gcs, client, dashboard)
    wait_port(gcs)
    wait_port(client)
    if "--include-dashboard=false" not in (extra or []):
        wait_dashboard(cluster, token=dashboard_token)
    return process, cluster


def wait_dashboard(cluster: RayCluster, timeout: float = 60.0, token: str | None = None) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(cluster.dashboard_url + "/api/v0/actors?limit=1", headers=headers)
            with urllib.request.urlopen(request, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError("dashboard did not come up")


stop_head = stop_ray_start  # the name the test modules use


@pytest.fixture(scope="session")
def ray_cluster():
    process, cluster = start_head()
    yield cluster
    from seedcore_cli import connection

    connection.disconnect()
    stop_head(process)


@pytest.fixture
def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _fresh_connection():
    yield
    from seedcore_cli import connection

    connection.disconnect()


def run_seedcore(args: list[str], env: dict[str, str] | None = None, timeout: float = 120,
                 cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `seedcore` in a child process (what an operator or CI step runs)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(SEEDCORE + args, capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)


@pytest.fixture
def cli():
    """Invoke the app in-process with typer's CliRunner: cli(args, env=...) -> Result."""
    from typer.testing import CliRunner

    from seedcore_cli.cli.app import app

    runner = CliRunner()

    def invoke(args: list[str], env: dict[str, str] | None = None, input: str | None = None):
        return runner.invoke(app, args, env=env, input=input, catch_exceptions=False)

    return invoke


def connect_to(cluster: RayCluster, namespace: str):
    """seedcore's one connection to `cluster` (a driver on its GCS) in `namespace`, for tests that
    need Ray outside the CLI; the live one when it already is that connection."""
    from seedcore_cli import connection, settings

    current = connection.current()
    if current is not None and (current.resolved_address, current.namespace) == (cluster.gcs_address, namespace):
        return current
    return connection.connect(settings.resolve(address=cluster.gcs_address, namespace=namespace))


def run_client(argv: list[str], env: dict[str, str] | None = None, timeout: float = 240):
    """run_seedcore for a Ray Client (ray://) invocation. No retry here: seedcore itself retries
    the proxy's transient "could not start a server for this client" failures (connect())."""
    return run_seedcore(argv, env=env, timeout=timeout)
