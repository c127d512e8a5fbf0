"""Faults on a real head: a frozen GCS or raylet (SIGSTOP), a head killed under `--watch`, an actor
that will not die. Every command ends on time with exit 3 (or 1) and one line that names the
silent component; after SIGCONT the same commands are healthy again.

The head is this module's own (freezing the session head would stall other tests), started from
the Ray-only environment with Ray's node health check relaxed, so that a raylet frozen for a few
seconds is not declared dead by the GCS. Its gcs_server and raylet are found through its own
process tree (psutil), never by name across the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from support.heads import SEEDCORE, TEST_CWD, free_port, run_seedcore, start_head, stop_head

from seedcore_cli.ray_boundary.probe import tcp_open
from seedcore_cli.settings import DEFAULT_DASHBOARD_PORT

TIMEOUT = 2.0
# The deadline under test is --timeout + 5 s; a child process needs ~1-2 s more to import
# seedcore and Ray on a loaded 2-core machine.
LIMIT_S = TIMEOUT + 5.0 + 3.0
DIAGNOSE_LIMIT_S = 20.0 + 3.0


@pytest.fixture(scope="module")
def fault_head():
    # A frozen raylet is not declared dead; the head stops at once at the end (no 30 s drain).
    # Its dashboard is on Ray's default port when that is free (as on KubeRay's head service):
    # then a Ray Client finds the raylets without being told where the dashboard is.
    process, cluster = start_head(env={"RAY_health_check_failure_threshold": "1000",
                                       "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"},
                                  dashboard_port=DEFAULT_DASHBOARD_PORT if not tcp_open(
                                      "127.0.0.1", DEFAULT_DASHBOARD_PORT, 0.5) else None)
    namespace = "faults"
    result = run_seedcore(["--address", cluster.gcs_address, "--namespace", namespace, "bootstrap"])
    assert result.returncode == 0, result.stderr
    yield cluster, process
    stop_head(process)


def head_child(process: subprocess.Popen, name: str) -> psutil.Process:
    """`gcs_server` or `raylet` among the processes of the head we started (its own tree)."""
    found = [child for child in psutil.Process(process.pid).children(recursive=True) if child.name() == name]
    assert len(found) == 1, f"expected one {name} under the head, found {found}"
    return found[0]


@contextlib.contextmanager
def frozen(process: psutil.Process):
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)


def address(cluster, mode: str) -> str:
    return cluster.gcs_address if mode == "driver" else cluster.client_address


def timed(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = run_seedcore(args, env=env, timeout=120)
    return result, time.monotonic() - started


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    return lines[0]


COMMANDS = {
    "status": ["organism", "status", "--timeout", str(TIMEOUT), "-o", "json"],
    "actors": ["actors", "list", "--timeout", str(TIMEOUT), "-o", "json"],
    "bootstrap": ["bootstrap", "--timeout", str(TIMEOUT)],
    "teardown": ["organism", "teardown", "--yes", "--timeout", str(TIMEOUT)],
}


@pytest.mark.parametrize("mode", ["driver", "client"])
@pytest.mark.parametrize("component", ["gcs_server", "raylet"])
def test_a_frozen_component_is_named_on_time_by_every_cluster_command(fault_head, mode, component):
    cluster, process = fault_head
    base = ["--address", address(cluster, mode), "--namespace", "faults"]
    # Through Ray Client only the dashboard tells where the raylets are (before a session starts):
    # found on Ray's default port, else named.
    env = ({"RAY_API_SERVER_ADDRESS": cluster.dashboard_url}
           if mode == "client" and cluster.dashboard_port != DEFAULT_DASHBOARD_PORT else {})
    named = "GCS" if component == "gcs_server" else "raylet"
    with frozen(head_child(process, component)):
        # Drivers at once (each mostly waits for its verdict); Ray Client sessions one by one, as a
        # Ray Client server with a frozen GCS behind it serves few at a time.
        with ThreadPoolExecutor(len(COMMANDS) if mode == "driver" else 1) as pool:
            runs = dict(zip(COMMANDS, pool.map(lambda args: timed([*base, *args], env), COMMANDS.values())))
        for command, (result, took) in runs.items():
            assert result.returncode == 3, (command, result.stdout, result.stderr)
            line = one_line(result.stderr)
            assert named in line and ("does not" in line or "no Ray answer" in line), (command, line)
            assert took < LIMIT_S, (command, took, line)
            assert result.stdout == "", command  # no half-written JSON
    # Resumed: healthy again, and nothing was torn down or created while it was frozen. (A Ray
    # Client server first finishes the sessions it was starting when the raylet froze: the next
    # session may wait for that, up to about a minute on this machine.)
    result = run_seedcore([*base, *COMMANDS["status"]], {**env, "SEEDCORE_CONNECT_TIMEOUT": "150"}, timeout=240)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["healthy"] is True


@pytest.mark.parametrize("mode", ["driver", "client"])
def test_diagnose_reports_every_check_within_20_s_with_a_frozen_gcs(fault_head, mode):
    cluster, process = fault_head
    with frozen(head_child(process, "gcs_server")):
        result, took = timed(["--address", address(cluster, mode), "--namespace", "faults", "diagnose", "-o", "json"])
    assert result.returncode == 1, result.stderr
    assert took < DIAGNOSE_LIMIT_S
    report = json.loads(result.stdout)
    checks = {check["id"]: check for check in report["checks"]}
    assert len(checks) == 11 and report["verdict"] == "fail"
    assert checks["reachability"]["status"] == "fail"
    assert "GCS" in checks["reachability"]["seen"]


def test_a_ray_client_stuck_behind_a_silent_raylet_ends_at_the_connect_timeout(fault_head):
    """When the dashboard cannot be reached (here: RAY_API_SERVER_ADDRESS names a closed port),
    Ray Client cannot see the raylets before its session starts: the Ray Client server and the
    GCS answer, so seedcore waits (a busy head looks the same) until the connect timeout, then
    says so."""
    cluster, process = fault_head
    args = ["--address", cluster.client_address, "--namespace", "faults", *COMMANDS["status"]]
    with frozen(head_child(process, "raylet")):
        result, took = timed(args, {"SEEDCORE_CONNECT_TIMEOUT": "6",
                                    "RAY_API_SERVER_ADDRESS": f"http://127.0.0.1:{free_port()}"})
    assert result.returncode == 3
    line = one_line(result.stderr)
    assert "within 6 s" in line and "answer" in line and "SEEDCORE_CONNECT_TIMEOUT" in line
    assert took < 6 + 3.0 + 3.0


@pytest.mark.parametrize("mode", ["driver", "client"])
def test_a_gcs_frozen_mid_watch_ends_the_watch_with_the_verdict(fault_head, mode):
    cluster, process = fault_head
    result, after_freeze = _watch_until(cluster, mode, lambda: head_child(process, "gcs_server").suspend(),
                                        undo=lambda: head_child(process, "gcs_server").resume())
    assert result[0] == 3, result
    assert "GCS" in result[1] and "does not answer" in result[1]
    assert after_freeze < LIMIT_S + 2.0  # a watch round may have just begun


def test_a_head_killed_under_watch_says_the_connection_was_lost():
    process, cluster = start_head()
    try:
        result = run_seedcore(["--address", cluster.gcs_address, "--namespace", "lost", "bootstrap",
                               "--singletons-only"])
        assert result.returncode == 0, result.stderr
        # The head dies at once (a crashed node), not by a graceful shutdown of ~30 s during
        # which its processes still answer.
        (code, stderr), _ = _watch_until(cluster, "driver", lambda: os.killpg(process.pid, signal.SIGKILL),
                                         singletons=True)
    finally:
        stop_head(process)
    assert code == 3, stderr
    assert "lost" in stderr and "GCS" in stderr and "gone (nothing listens)" in stderr


def _watch_until(cluster, mode: str, fault, undo=None, singletons: bool = False):
    """Run `organism status --watch` on a terminal (a pty), apply `fault` once the first view is
    drawn, and return ((exit code, stderr), seconds from the fault to the exit)."""
    namespace = "lost" if singletons else "faults"
    master, slave = pty.openpty()
    child = subprocess.Popen([*SEEDCORE, "--address", address(cluster, mode), "--namespace", namespace,
                              "organism", "status", "--watch", "--timeout", str(TIMEOUT)],
                             stdin=slave, stdout=slave, stderr=subprocess.PIPE, cwd=TEST_CWD,
                             env=dict(os.environ, COLUMNS="200"))
    os.close(slave)
    try:
        _read_until(master, b"Ctrl-C", 60)
        fault()
        faulted = time.monotonic()
        try:
            _, stderr = child.communicate(timeout=60)
        finally:
            if undo is not None:
                undo()
        return (child.returncode, stderr.decode()), time.monotonic() - faulted
    finally:
        if child.poll() is None:
            child.kill()
        os.close(master)


def _read_until(fd: int, marker: bytes, timeout: float) -> None:
    import select

    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        assert time.monotonic() < deadline, seen[-500:]
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            seen += os.read(fd, 65536)
