"""`seedcore cluster start|status|stop`: exactly one loopback cluster, stopped by its pid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from support.heads import SEEDCORE, run_seedcore


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
        # Two concurrent starts end with one cluster: the lock covers the choice of ports and the
        # start; the second finds the first's cluster running and says so. Both exit 0.
        starts = [subprocess.Popen(SEEDCORE + ["cluster", "start", "--num-cpus", "1", "-o", "json"],
                                   env=dict(os.environ, **state_env), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL) for _ in range(2)]
        results = [(p.wait(timeout=150), *p.communicate()) for p in starts]
        assert [code for code, _, _ in results] == [0, 0], results
        infos = [json.loads(out) for _, out, _ in results]
        assert infos[0]["pid"] == infos[1]["pid"] and infos[0]["gcs_address"] == infos[1]["gcs_address"]
        said = sorted("Started the local cluster" in err for _, _, err in results)
        assert said == [False, True] and any("already runs" in err for _, _, err in results)
        info = infos[0]
        assert info["running"] and info["gcs_address"].startswith("127.0.0.1:")
        assert info["create_time"] == pytest.approx(psutil.Process(info["pid"]).create_time(), abs=1)
        temp_dir = info["temp_dir"]
        assert _processes_mentioning(temp_dir), "no Ray process runs under the cluster's temp dir"

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
    assert not psutil.pid_exists(info["pid"]) or psutil.Process(info["pid"]).status() == psutil.STATUS_ZOMBIE
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


# --- the state directory and a corrupt record: exit 2, one line, nothing created or removed -------


def test_a_state_dir_below_a_regular_file_is_bad_input(tmp_path, cli):
    (tmp_path / "file").write_text("")
    env = {"SEEDCORE_STATE_DIR": str(tmp_path / "file" / "state")}
    for command in (["cluster", "status"], ["cluster", "stop"], ["cluster", "start"]):
        result = cli(command, env=env)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "(from SEEDCORE_STATE_DIR) is not a directory: it lies below a regular file" in result.stderr


def test_stop_with_no_state_dir_creates_nothing(tmp_path, cli):
    result = cli(["cluster", "stop"], env={"SEEDCORE_STATE_DIR": str(tmp_path / "a" / "b")})
    assert result.exit_code == 0 and "nothing to stop" in result.stderr
    assert list(tmp_path.iterdir()) == []


RECORD = {"pid": 2 ** 22 + 7, "gcs_port": 1, "client_port": 2, "dashboard_port": 3, "temp_dir": "/tmp/none",
          "log_file": "/tmp/none.log", "started_at": 0}


@pytest.mark.parametrize("content,needle", [
    (b'{"pid": "abc"}', "is corrupt: 'pid' is a string, not a whole number"),
    (json.dumps(RECORD)[:30].encode(), "is not JSON (Expecting"),  # truncated
    (json.dumps({**RECORD, "gcs_port": [6379]}).encode(), "is corrupt: 'gcs_port' is a list, not a whole number"),
    (json.dumps({**RECORD, "pid": 1.5}).encode(), "'pid' is a decimal number, not a whole number"),
    (json.dumps({**RECORD, "pid": True}).encode(), "'pid' is a boolean"),
    (json.dumps({**RECORD, "pid": -4}).encode(), "'pid' is out of range"),
    (json.dumps({**RECORD, "client_port": 70000}).encode(), "'client_port' is not a port"),
    (json.dumps({**RECORD, "auth": "x" * 500}).encode(), "... (500 characters), not '' or 'token'"),
    (json.dumps({k: v for k, v in RECORD.items() if k != "log_file"}).encode(), "'log_file' is missing"),
    (b"[1, 2]", "is corrupt: expected a JSON object, found a list"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "is not JSON (not UTF-8 text)"),
    (b"[" * 100_000, "is not"),
])
def test_a_corrupt_record_is_bad_input_naming_the_file_and_the_fix(tmp_path, cli, content, needle):
    record = tmp_path / "local-cluster.json"
    record.write_bytes(content)
    env = {"SEEDCORE_STATE_DIR": str(tmp_path)}
    for command in (["cluster", "status"], ["cluster", "stop"], ["info"]):
        result = cli(command, env=env)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, (command, result.stderr)
        assert f"local cluster state file {record}" in result.stderr and needle in result.stderr, result.stderr
        assert "remove it if no seedcore cluster is running" in result.stderr and len(result.stderr) < 500
    assert record.read_bytes() == content  # kept: it may still name a running cluster


def test_an_older_record_without_create_time_or_auth_is_read(tmp_path, cli):
    (tmp_path / "local-cluster.json").write_text(json.dumps({**RECORD, "from_a_newer_seedcore": 1}))
    result = cli(["cluster", "status", "-o", "json"], env={"SEEDCORE_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 1 and json.loads(result.stdout)["stale"] is True


# --- stop signals only the head it started ---------------------------------------------------------


FAKE_RAY = """#!{python}
import signal, sys, time
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def fake_head(tmp_path):
    """start(extra): a process whose command line is `.../ray start --head --block ...` (a script
    named ray): what identify() looks for, without the cost of a real head. Killed by its pid."""
    ray = tmp_path / "bin" / "ray"
    ray.parent.mkdir()
    ray.write_text(FAKE_RAY.format(python=sys.executable))
    ray.chmod(0o755)
    started = []

    def start(extra=(), ports=(1, 2, 3), temp_dir="/tmp/none") -> subprocess.Popen:
        command = [str(ray), "start", "--head", "--block", f"--port={ports[0]}", f"--ray-client-server-port={ports[1]}",
                   f"--dashboard-port={ports[2]}", f"--temp-dir={temp_dir}", *extra]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"  # its signal handler is in place
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _record(tmp_path: Path, pid: int, **extra) -> Path:
    path = tmp_path / "state" / "local-cluster.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({**RECORD, "pid": pid, **extra}))
    return path


def test_stop_never_signals_a_pid_that_is_now_another_process(tmp_path, cli):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        record = _record(tmp_path, other.pid)
        result = cli(["cluster", "stop"], env={"SEEDCORE_STATE_DIR": str(tmp_path / "state")})
        assert result.exit_code == 0, result.stderr
        assert f"pid {other.pid} is no longer the local cluster's head (it is '" in result.stderr
        assert "did not signal it; forgot the stale record" in result.stderr
        time.sleep(0.2)
        assert other.poll() is None and not record.exists()
    finally:
        other.kill()
        other.wait()


def test_stop_checks_the_start_time_too(tmp_path, cli, fake_head):
    head = fake_head()
    created = psutil.Process(head.pid).create_time()
    record = _record(tmp_path, head.pid, create_time=created - 3600)  # the pid's earlier owner
    result = cli(["cluster", "stop"], env={"SEEDCORE_STATE_DIR": str(tmp_path / "state")})
    assert result.exit_code == 0 and "did not signal it" in result.stderr and "not the head" in result.stderr
    assert head.poll() is None and not record.exists()


@pytest.mark.parametrize("with_create_time", [True, False])  # False: a record older than create_time
def test_stop_signals_its_own_head(tmp_path, cli, fake_head, with_create_time):
    head = fake_head()
    extra = {"create_time": psutil.Process(head.pid).create_time()} if with_create_time else {}
    record = _record(tmp_path, head.pid, **extra)
    result = cli(["cluster", "stop"], env={"SEEDCORE_STATE_DIR": str(tmp_path / "state")})
    assert result.exit_code == 0 and f"Stopped the local cluster (pid {head.pid}" in result.stderr
    assert not psutil.pid_exists(head.pid) and not record.exists()  # stop() reaped its (test's) child


def test_a_head_with_other_ports_is_not_ours(tmp_path, cli, fake_head):
    head = fake_head(ports=(6379, 10001, 8265))
    _record(tmp_path, head.pid)  # the record says ports 1, 2, 3
    result = cli(["cluster", "stop"], env={"SEEDCORE_STATE_DIR": str(tmp_path / "state")})
    assert result.exit_code == 0 and "did not signal it" in result.stderr and head.poll() is None


def test_a_failed_kill_keeps_the_record_and_exits_1(tmp_path, cli, fake_head, monkeypatch):
    from seedcore_cli.local import cluster as local_cluster

    head = fake_head(["--ignore-term"])
    record = _record(tmp_path, head.pid, create_time=psutil.Process(head.pid).create_time())
    env = {"SEEDCORE_STATE_DIR": str(tmp_path / "state")}
    # A head that outlives SIGTERM and whose SIGKILL does not land (a process stuck in the kernel):
    # the OS boundary is faked for SIGKILL only.
    monkeypatch.setattr(local_cluster, "STOP_TIMEOUT_S", 0.5)
    monkeypatch.setattr(local_cluster, "KILL_WAIT_S", 0.5)
    real_kill = os.kill
    monkeypatch.setattr(os, "killpg", lambda pid, sig: None)
    monkeypatch.setattr(os, "kill", lambda pid, sig: None if sig == signal.SIGKILL else real_kill(pid, sig))
    result = cli(["cluster", "stop"], env=env)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert f"the local cluster's head (pid {head.pid}) still runs after SIGTERM" in result.stderr
    assert "its record is kept" in result.stderr and record.exists() and head.poll() is None

    def refuse(pid, sig):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", refuse)
    result = cli(["cluster", "stop"], env=env)
    assert result.exit_code == 1 and f"not allowed to signal the local cluster's head (pid {head.pid})" in result.stderr
    assert record.exists() and head.poll() is None
