"""`seedcore cluster start|status|stop`: exactly one loopback cluster, stopped by its pid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_seedcore


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def state_env(tmp_path):
    return {"SEEDCORE_STATE_DIR": str(tmp_path / "state"), "RAY_TMPDIR": str(tmp_path / "no-ray")}


def test_start_status_use_stop(state_env, namespace):
    try:
        started = run_seedcore(["cluster", "start", "--num-cpus", "1", "-o", "json"], env=state_env, timeout=150)
        assert started.returncode == 0, started.stderr
        info = json.loads(started.stdout)
        assert info["running"] and info["gcs_address"].startswith("127.0.0.1:")
        assert "Started the local cluster" in started.stderr
        temp_dir = info["temp_dir"]
        assert _processes_mentioning(temp_dir), "no Ray process runs under the cluster's temp dir"

        again = run_seedcore(["cluster", "start", "-o", "json"], env=state_env)
        assert again.returncode == 0 and json.loads(again.stdout)["pid"] == info["pid"]
        assert "already runs" in again.stderr

        status = run_seedcore(["cluster", "status", "-o", "json"], env=state_env)
        assert status.returncode == 0 and json.loads(status.stdout)["pid"] == info["pid"]

        # With nothing configured, commands use the local cluster.
        used = run_seedcore(["--namespace", namespace, "info", "-o", "json"], env=state_env)
        assert used.returncode == 0, used.stderr
        conn = json.loads(used.stdout)
        assert conn["mode"] == "local" and conn["resolved_address"] == info["gcs_address"]
        assert conn["dashboard_url"] == info["dashboard_url"]
        via_local = run_seedcore(["--address", "local", "info", "-o", "json"], env=state_env)
        assert json.loads(via_local.stdout)["resolved_address"] == info["gcs_address"]
    finally:
        stopped = run_seedcore(["cluster", "stop"], env=state_env, timeout=90)
    assert stopped.returncode == 0 and "Stopped the local cluster" in stopped.stderr
    assert _processes_mentioning(temp_dir) == []  # nothing left behind
    assert not Path(state_env["SEEDCORE_STATE_DIR"], "local-cluster.json").exists()
    after = run_seedcore(["cluster", "status"], env=state_env)
    assert after.returncode == 1 and "False" in after.stdout


def test_stop_with_nothing_recorded(state_env):
    result = run_seedcore(["cluster", "stop"], env=state_env)
    assert result.returncode == 0 and "nothing to stop" in result.stderr


def test_status_of_a_stale_state_file(state_env):
    state = Path(state_env["SEEDCORE_STATE_DIR"])
    state.mkdir(parents=True)
    (state / "local-cluster.json").write_text(json.dumps({
        "pid": 2 ** 22 + 7, "gcs_port": 1, "client_port": 2, "dashboard_port": 3,
        "temp_dir": "/tmp/none", "log_file": "/tmp/none.log", "started_at": 0}))
    result = run_seedcore(["cluster", "status", "-o", "json"], env=state_env)
    assert result.returncode == 1
    assert json.loads(result.stdout)["stale"] is True and "not running" in result.stderr


def test_read_only_command_never_starts_a_cluster(state_env):
    result = run_seedcore(["--address", "local", "info"], env=state_env)
    assert result.returncode == 3 and "seedcore cluster start" in result.stderr
    assert not Path(state_env["SEEDCORE_STATE_DIR"], "local-cluster.json").exists()


def test_stop_of_a_stale_record_says_so(state_env):
    test_status_of_a_stale_state_file(state_env)
    result = run_seedcore(["cluster", "stop"], env=state_env)
    assert result.returncode == 0 and "was not running; forgot its record" in result.stderr
    assert not Path(state_env["SEEDCORE_STATE_DIR"], "local-cluster.json").exists()
