"""connect(): one ray.init, idempotent, refuses a second target, fails fast, maps errors."""

from __future__ import annotations

import json

import pytest
from support.heads import free_port, run_client, run_seedcore

from seedcore_cli import settings
from seedcore_cli.errors import ConnectionConflict, NoCluster, Unreachable
from seedcore_cli.ray_boundary import connect_errors, connection


def _connect(address: str, namespace: str, **kwargs):
    return connection.connect(settings.resolve(address=address, namespace=namespace, environ={}), **kwargs)


def test_connect_twice_is_one_ray_init(ray_cluster, namespace, monkeypatch):
    import ray

    calls = []
    real_init = ray.init
    monkeypatch.setattr(ray, "init", lambda *a, **k: calls.append(k) or real_init(*a, **k))
    first = _connect(ray_cluster.gcs_address, namespace)
    second = _connect(ray_cluster.gcs_address, namespace)
    assert first is second and len(calls) == 1
    assert first.mode == "driver" and first.namespace == namespace
    assert ray.get_runtime_context().namespace == namespace
    assert first.dashboard_url == ray_cluster.dashboard_url
    assert first.cluster_ray_version == ray.__version__


def test_another_namespace_or_address_while_connected_is_an_error(ray_cluster, namespace):
    import ray

    _connect(ray_cluster.gcs_address, namespace)
    with pytest.raises(ConnectionConflict, match="already connected"):
        _connect(ray_cluster.gcs_address, namespace + "-other")
    with pytest.raises(ConnectionConflict):
        _connect(ray_cluster.client_address, namespace)
    assert ray.get_runtime_context().namespace == namespace  # untouched


def test_ray_initialised_outside_seedcore_is_a_conflict(ray_cluster, namespace):
    import ray

    ray.init(address=ray_cluster.gcs_address, namespace="someone-else")
    try:
        with pytest.raises(ConnectionConflict, match="someone-else"):
            _connect(ray_cluster.gcs_address, namespace)
    finally:
        ray.shutdown()


def test_disconnect_then_connect_elsewhere(ray_cluster, namespace):
    _connect(ray_cluster.gcs_address, namespace)
    connection.disconnect()
    assert connection.current() is None
    assert _connect(ray_cluster.gcs_address, namespace + "-b").namespace == namespace + "-b"


def test_ray_client_mode(ray_cluster, namespace):
    result = run_client(["--address", ray_cluster.client_address, "--namespace", namespace, "info", "-o", "json"])
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["mode"] == "client" and info["namespace"] == namespace
    assert info["resolved_address"] == ray_cluster.client_address
    assert info["dashboard_url"] == ray_cluster.dashboard_url


def test_auto_finds_the_recorded_cluster(ray_cluster, tmp_path):
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text(ray_cluster.gcs_address)
    result = run_seedcore(["--address", "auto", "info", "-o", "json"], env={"RAY_TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["resolved_address"] == ray_cluster.gcs_address


def test_auto_with_nothing_recorded_exits_3(tmp_path):
    result = run_seedcore(["--address", "auto", "info"], env={"RAY_TMPDIR": str(tmp_path)})
    assert result.returncode == 3
    assert "no running Ray cluster found for address 'auto'" in result.stderr


def test_default_with_no_cluster_anywhere_exits_3_with_hint(tmp_path):
    env = {"RAY_TMPDIR": str(tmp_path), "SEEDCORE_STATE_DIR": str(tmp_path / "state")}
    result = run_seedcore(["info"], env=env)
    assert result.returncode == 3
    assert "seedcore cluster start" in result.stderr and "RAY_ADDRESS" in result.stderr
    assert not (tmp_path / "state" / "local-cluster.json").exists()  # read-only: started nothing


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_closed_port_exits_3_from_the_probe(scheme):
    """Refused by the probe (bench/ times it), never handed to Ray's 30-120 s wait."""
    port = free_port()
    result = run_seedcore(["info"], env={"RAY_ADDRESS": f"{scheme}127.0.0.1:{port}"})
    assert result.returncode == 3
    assert result.stderr.strip() == f"Error: cannot reach Ray at 127.0.0.1:{port} (from RAY_ADDRESS); " + (
        "check the Ray Client port (default 10001) and that the head runs" if scheme else
        "check that the cluster runs and the port is right")
    verbose = run_seedcore(["-v", "info"], env={"RAY_ADDRESS": f"{scheme}127.0.0.1:{port}"})
    assert "in check_reachable" in verbose.stderr and "in _init" not in verbose.stderr  # the probe raised


def test_ray_client_scheme_at_the_gcs_port_is_named(ray_cluster):
    with pytest.raises(Unreachable, match="points at a GCS port") as info:
        _connect(f"ray://{ray_cluster.gcs_address}", "x")
    assert "ray://127.0.0.1:10001" in info.value.hint


def test_gcs_address_at_the_client_port_is_named(ray_cluster):
    with pytest.raises(Unreachable, match="is a Ray Client port") as info:
        _connect(f"127.0.0.1:{ray_cluster.client_port}", "x")
    assert f"ray://127.0.0.1:{ray_cluster.client_port}" in info.value.hint


def test_local_target_without_local_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDCORE_STATE_DIR", str(tmp_path))
    with pytest.raises(NoCluster, match="local cluster is not running"):
        _connect("local", "x")


def test_init_errors_become_one_line_causes():
    s = settings.resolve(address="127.0.0.1:6379", namespace="x", environ={})
    err = connect_errors.explain_init_error(
        RuntimeError("Version mismatch: The cluster was started with:\n    Ray: 2.9.0\n..."), s, "127.0.0.1:6379")
    assert err.exit_code == 3 and "version mismatch" in err.message and "\n" not in err.message
    err = connect_errors.explain_init_error(ConnectionError("ray client connection timeout"), s, "ray://h:1")
    assert isinstance(err, Unreachable)


def test_a_silent_port_is_refused_fast():
    """A server that never speaks first (Redis on 6379, say) must not leave ray.init hanging."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: [accepted.append(server.accept()) for _ in range(4)], daemon=True).start()
    try:
        with pytest.raises(Unreachable, match="gave no Ray answer"):  # the probe's verdict, not Ray's wait
            _connect(f"127.0.0.1:{port}", "x")
    finally:
        server.close()


def test_a_stale_recorded_cluster_is_not_used_by_default(tmp_path, monkeypatch):
    (tmp_path / "ray").mkdir()
    recorded = f"127.0.0.1:{free_port()}"
    (tmp_path / "ray" / "ray_current_cluster").write_text(recorded)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.setenv("SEEDCORE_STATE_DIR", str(tmp_path / "state"))
    s = settings.resolve(namespace="x", environ={})
    # Read-only: no cluster, and the message says the recorded one does not answer.
    with pytest.raises(NoCluster, match="does not answer"):
        connection.resolve_target(s, start_local=False)
    # bootstrap: falls through to starting the local cluster (the process boundary is faked here;
    # test_cli_bootstrap starts a real one from nothing).
    from seedcore_cli.local import cluster as local_cluster

    fake = local_cluster.LocalCluster(pid=1, gcs_port=7, client_port=8, dashboard_port=9,
                                      temp_dir="/tmp/x", log_file="/tmp/x.log", started_at=0)
    monkeypatch.setattr(local_cluster, "start", lambda: (fake, True))
    assert connection.resolve_target(s, start_local=True) == ("local", "127.0.0.1:7", True)
    # An explicit `auto` still means that cluster: it is reported gone, not replaced.
    auto = settings.resolve(address="auto", namespace="x", environ={})
    assert connection.resolve_target(auto, start_local=True) == ("driver", recorded, False)
