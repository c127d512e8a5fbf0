"""Loopback Ray heads for the tests, and the ways tests run seedcore against them.

A head is the shape operators deploy: `ray start --head --block` from a virtual environment that
holds Ray and nothing of seedcore (`support.ray_envs`), in its own process session, stopped by
its pid (`stop_head`). `run_seedcore` runs the real command in a child process; `connect_to`
gives a test seedcore's one connection for checks with Ray's own API.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from seedcore_cli.local.state import LoopbackHead  # no ray import
from support import ray_envs
from support.environment import TEST_CWD
from support.owned_process import stop_ray_start

LOOPBACK = "127.0.0.1"
SEEDCORE = [sys.executable, "-m", "seedcore_cli"]


def free_port() -> int:
    """A free loopback port outside Ray's worker range (10002-19999): the one helper users' code uses."""
    from seedcore_cli.local.cluster import free_port as free

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
    from seedcore_cli.local.cluster import head_command

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


def run_seedcore(args: list[str], env: dict[str, str] | None = None, timeout: float = 120,
                 cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `seedcore` in a child process (what an operator or CI step runs)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(SEEDCORE + args, capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)


def connect_to(cluster: RayCluster, namespace: str):
    """seedcore's one connection to `cluster` (a driver on its GCS) in `namespace`, for tests that
    need Ray outside the CLI; the live one when it already is that connection."""
    from seedcore_cli import settings
    from seedcore_cli.ray_boundary import connection

    current = connection.current()
    if current is not None and (current.resolved_address, current.namespace) == (cluster.gcs_address, namespace):
        return current
    return connection.connect(settings.resolve(address=cluster.gcs_address, namespace=namespace))


def run_client(argv: list[str], env: dict[str, str] | None = None, timeout: float = 240):
    """run_seedcore for a Ray Client (ray://) invocation. No retry here: seedcore itself retries
    the proxy's transient "could not start a server for this client" failures (connect())."""
    return run_seedcore(argv, env=env, timeout=timeout)
