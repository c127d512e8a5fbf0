"""`seedcore connections` and diagnose's `drivers` check, against real drivers and a Ray Client
session this module starts, each in a chosen namespace and with a known pid."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from support.heads import connect_to, run_client, run_seedcore

KEYS = {"job_id", "kind", "namespace", "pid", "node_ip", "entrypoint", "start_time", "alive", "actors", "is_self"}

DRIVER = """
import sys, time, ray
ray.init(address=sys.argv[1], namespace=(sys.argv[2] or None), log_to_driver=False)
if len(sys.argv) > 3:
    @ray.remote(num_cpus=0)
    class Holder:
        def ping(self):
            return 1
    holder = Holder.options(name=sys.argv[3], lifetime="detached").remote()
    ray.get(holder.ping.remote())
print("NAMESPACE=" + ray.get_runtime_context().namespace, flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def others(ray_cluster, tmp_path_factory):
    """A SeedCore-looking service in the wrong namespace, an anonymous driver that owns a detached
    actor, and a Ray Client session in its own namespace; stopped by their pids afterwards."""
    folder = tmp_path_factory.mktemp("drivers")
    service = folder / "seedcore_service.py"  # its entrypoint mentions seedcore
    service.write_text(DRIVER)
    plain = folder / "plain_driver.py"
    plain.write_text(DRIVER)
    tag = uuid.uuid4().hex[:8]
    wrong, client_ns, holder = f"wrong-{tag}", f"client-{tag}", f"holder_{tag}"
    started = {
        "service": subprocess.Popen([sys.executable, str(service), ray_cluster.gcs_address, wrong], cwd=folder,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True),
        "anonymous": subprocess.Popen([sys.executable, str(plain), ray_cluster.gcs_address, "", holder], cwd=folder,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True),
        "client": subprocess.Popen([sys.executable, str(plain), ray_cluster.client_address, client_ns], cwd=folder,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True),
    }
    namespaces = {name: _ready(process) for name, process in started.items()}
    yield {"processes": started, "namespaces": namespaces, "wrong": wrong, "client": client_ns, "holder": holder}
    for process in started.values():
        process.terminate()
        process.wait(30)
    from seedcore_cli.ray_boundary import connection

    connection.disconnect()
    connect_to(ray_cluster, "t-cleanup")
    try:
        import ray

        ray.kill(ray.get_actor(holder, namespace=namespaces["anonymous"]), no_restart=True)
    finally:
        connection.disconnect()


def _ready(process: subprocess.Popen) -> str:
    """The namespace the driver reports once connected (Ray may print its own lines first)."""
    for line in process.stdout:
        if line.startswith("NAMESPACE="):
            return line.strip().split("=", 1)[1]
    raise AssertionError(f"driver {process.pid} exited before connecting")


@pytest.mark.parametrize("mode", ["driver", "client"])
def test_connections_lists_every_live_session_with_its_namespace(ray_cluster, others, namespace, mode):
    address, run = (ray_cluster.gcs_address, run_seedcore) if mode == "driver" else (ray_cluster.client_address, run_client)
    result = run(["--address", address, "--namespace", namespace, "connections", "-o", "json"])
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows and all(set(row) == KEYS for row in rows) and all(row["alive"] for row in rows)
    by_pid = {row["pid"]: row for row in rows}
    service = by_pid[others["processes"]["service"].pid]
    assert (service["kind"], service["namespace"]) == ("driver", others["wrong"])
    assert "seedcore_service.py" in service["entrypoint"] and service["node_ip"] == "127.0.0.1"
    anonymous = by_pid[others["processes"]["anonymous"].pid]
    assert anonymous["namespace"] == others["namespaces"]["anonymous"]  # Ray's random one
    assert anonymous["actors"] == {others["namespaces"]["anonymous"]: [others["holder"]]}
    client = [row for row in rows if row["namespace"] == others["client"]]
    assert [row["kind"] for row in client] == ["client"]  # its server on the head, not its own pid
    mine = [row for row in rows if row["is_self"]]
    assert len(mine) == 1 and mine[0]["namespace"] == namespace
    assert mine[0]["kind"] == ("driver" if mode == "driver" else "client")


def test_all_adds_finished_sessions(ray_cluster, others, namespace):
    run_seedcore(["--address", ray_cluster.gcs_address, "--namespace", namespace, "info"])  # a finished driver
    rows = json.loads(run_seedcore(["--address", ray_cluster.gcs_address, "--namespace", namespace, "connections",
                                    "--all", "-o", "json"]).stdout)
    finished = [row for row in rows if not row["alive"] and row["namespace"] == namespace]
    assert finished and all(row["kind"] == "driver" for row in finished)


def test_connections_table_groups_by_namespace_and_marks_itself(ray_cluster, others, namespace):
    result = run_seedcore(["--address", ray_cluster.gcs_address, "--namespace", namespace, "connections"],
                          env={"COLUMNS": "250"})
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if "│" in line and "namespace" not in line]
    namespaces = [line.split("│")[1].strip() for line in lines if line.split("│")[1].strip()]
    assert namespaces == sorted(namespaces)  # grouped by namespace
    assert "* driver" in result.stdout and "* marks this seedcore process" in result.stderr


def test_the_namespace_column_survives_a_changed_job_table(ray_cluster, others, namespace, cli, monkeypatch):
    from seedcore_cli.ray_boundary import ray_compat

    def changed(in_process):
        raise ray_compat.ApiChanged("global_worker.gcs_client.get_all_job_info is gone")

    monkeypatch.setattr(ray_compat, "job_namespaces", changed)
    result = cli(["--address", ray_cluster.gcs_address, "--namespace", namespace, "connections", "-o", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {row["namespace"] for row in rows} == {"unknown"}
    assert others["processes"]["service"].pid in {row["pid"] for row in rows}  # everything else still listed
    assert "namespaces shown as unknown" in result.stderr


def test_diagnose_drivers_check_names_the_service_in_the_wrong_namespace(ray_cluster, others, namespace):
    result = run_seedcore(["--address", ray_cluster.gcs_address, "--namespace", namespace, "diagnose", "-o", "json"])
    drivers = {c["id"]: c for c in json.loads(result.stdout)["checks"]}["drivers"]
    assert drivers["status"] == "warn", drivers
    pid = others["processes"]["service"].pid
    assert f"pid {pid} on 127.0.0.1 runs in namespace {others['wrong']!r}, not {namespace!r}" in drivers["seen"]
    assert "seedcore_service.py" in drivers["seen"]
    assert f"anonymous namespace {others['namespaces']['anonymous']} holds detached actors {others['holder']}" \
        in drivers["seen"]
    assert f"{others['client']}: 1" in drivers["seen"]


def test_job_namespaces_contract(ray_cluster, namespace):
    """ray_compat.job_namespaces reads the GCS job table (private API): our own job is there."""
    import ray

    from seedcore_cli.ray_boundary import ray_compat

    connect_to(ray_cluster, namespace)
    table = ray_compat.job_namespaces(in_process=True)
    assert table[ray.get_runtime_context().get_job_id()] == namespace
