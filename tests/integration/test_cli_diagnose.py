"""`seedcore diagnose` against the real loopback cluster: each failure reproduced for real.

Every test asserts the check id, its status and the exit code; effects are checked with Ray's own
API. Timing-bounded cases run the real command in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from support.heads import free_port, run_client, run_seedcore

# --- helpers -----------------------------------------------------------------------------------


def checks(stdout: str) -> dict[str, dict]:
    data = json.loads(stdout)
    return {c["id"]: c for c in data["checks"]}


def verdict(stdout: str) -> dict:
    return json.loads(stdout)


def _connect(gcs: str, namespace: str, tmp_path):
    from seedcore_cli import settings
    from seedcore_cli.ray_boundary import connection

    return connection.connect(settings.resolve(address=gcs, namespace=namespace, environ={}, cwd=tmp_path))


def deploy_singletons(gcs: str, namespace: str, tmp_path) -> None:
    """The three singletons in `namespace`, made by seedcore's own get-or-create."""
    from seedcore_cli.organism import singletons
    from seedcore_cli.ray_boundary import connection

    try:
        conn = _connect(gcs, namespace, tmp_path)
        reports = singletons.ensure(conn, timeout=90)
        assert all(r.state == "ALIVE" for r in reports), reports
    finally:
        connection.disconnect()


def kill_named(gcs: str, namespace: str, names, tmp_path) -> None:
    """Kill the named actors in `namespace` (ours, in the shared session cluster) and wait until gone."""
    import ray

    from seedcore_cli.ray_boundary import connection

    try:
        _connect(gcs, namespace, tmp_path)
        for name in names:
            try:
                ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
            except ValueError:
                continue
        deadline = time.monotonic() + 20
        for name in names:
            while time.monotonic() < deadline:
                try:
                    ray.get_actor(name, namespace=namespace)
                except ValueError:
                    break
                time.sleep(0.1)
    finally:
        connection.disconnect()


SINGLETON_NAMES = ("miss_tracker", "shared_cache", "mw")
SMALL_CONFIG = """
seedcore:
  organism:
    organ_types:
      - id: utility_organ_9
        type: Utility
        agent_count: 1
"""


def deploy_organism(gcs: str, namespace: str, tmp_path, config_path=None) -> tuple[str, ...]:
    """Singletons, organs and agents in `namespace`, as bootstrap makes them; returns every name."""
    from seedcore_cli.organism import config as organism_config
    from seedcore_cli.organism.manager import OrganismManager
    from seedcore_cli.ray_boundary import connection

    config = organism_config.load(config_path)
    try:
        result = OrganismManager(_connect(gcs, namespace, tmp_path), config).initialize(timeout=120)
        assert result.ok and all(r.state == "ALIVE" for r in result.actors), result.to_dict()
    finally:
        connection.disconnect()
    return SINGLETON_NAMES + tuple(config.names())


@pytest.fixture(scope="module")
def deployed(ray_cluster, tmp_path_factory):
    """A namespace holding the default organism, shared by the tests of this module (read-only)."""
    namespace = f"t-deployed-{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("deployed")
    names = deploy_organism(ray_cluster.gcs_address, namespace, tmp)
    yield namespace
    kill_named(ray_cluster.gcs_address, namespace, names, tmp)


# --- healthy -------------------------------------------------------------------------------------


def test_healthy_cluster_every_check_ok_exit_0(ray_cluster, deployed):
    result = run_seedcore(["--address", ray_cluster.gcs_address, "--namespace", deployed, "diagnose", "-o", "json"])
    assert result.returncode == 0, result.stdout + result.stderr
    found = checks(result.stdout)
    for check_id in ("configuration", "local_install", "address", "reachability", "connection", "versions",
                     "namespace", "singletons", "organism", "dashboard_security"):
        assert found[check_id]["status"] == "ok", found[check_id]
    assert verdict(result.stdout)["verdict"] == "ok"
    assert "9 SeedCore actor name(s) here" in found["namespace"]["seen"]
    assert "3/3 organs healthy, 3/3 agents healthy" in found["organism"]["seen"]
    assert "driver to 127.0.0.1" in found["connection"]["seen"]
    # the report's own clock adds up (how fast it is: bench/)
    assert sum(c["seconds"] for c in found.values()) <= verdict(result.stdout)["seconds"]


def test_healthy_table_goes_to_stdout_and_the_verdict_line_to_stderr(ray_cluster, deployed, cli):
    result = cli(["--address", ray_cluster.gcs_address, "--namespace", deployed, "diagnose"])
    assert result.exit_code == 0, result.stdout + result.stderr
    for check_id in ("configuration", "reachability", "singletons", "dashboard_security"):
        assert check_id in result.stdout
    assert "Verdict: OK" in result.stderr and "Verdict" not in result.stdout


def test_ray_client_mode_healthy(ray_cluster, deployed):
    args = ["--address", ray_cluster.client_address, "--namespace", deployed, "diagnose", "-o", "json"]
    result = run_client(args)  # retried past Ray Client's per-client port race (conftest)
    found = checks(result.stdout)
    assert found["connection"]["status"] == "ok" and "client to ray://" in found["connection"]["seen"]
    assert found["versions"]["status"] == "ok" and "Ray Client" in found["versions"]["seen"]
    assert found["singletons"]["status"] == "ok", found["singletons"]
    assert found["organism"]["status"] == "ok", found["organism"]
    assert found["namespace"]["status"] == "ok"
    assert result.returncode == 0, result.stdout + result.stderr


# --- unreachable ---------------------------------------------------------------------------------


def test_closed_port_fails_fast(ray_cluster):
    port = free_port()
    result = run_seedcore(["--address", f"127.0.0.1:{port}", "diagnose", "-o", "json"])
    found = checks(result.stdout)
    assert found["reachability"]["status"] == "fail"
    assert f"127.0.0.1:{port}" in found["reachability"]["seen"] and found["reachability"]["hint"]
    assert found["connection"]["status"] == "skip" and "reachability failed" in found["connection"]["seen"]
    assert found["configuration"]["status"] == "ok" and found["local_install"]["status"] == "ok"
    assert result.returncode == 1


def test_ray_client_address_aimed_at_the_gcs_port(ray_cluster):
    result = run_seedcore(["--address", f"ray://127.0.0.1:{ray_cluster.gcs_port}", "diagnose", "-o", "json"])
    reach = checks(result.stdout)["reachability"]
    assert reach["status"] == "fail"
    assert "points at a GCS port" in reach["seen"]
    assert f"127.0.0.1:{ray_cluster.gcs_port} without ray://" in reach["hint"]
    assert result.returncode == 1


def test_gcs_address_aimed_at_the_client_port(ray_cluster):
    result = run_seedcore(["--address", f"127.0.0.1:{ray_cluster.client_port}", "diagnose", "-o", "json"])
    reach = checks(result.stdout)["reachability"]
    assert reach["status"] == "fail" and "Ray Client port" in reach["seen"]
    assert f"ray://127.0.0.1:{ray_cluster.client_port}" in reach["hint"]
    assert result.returncode == 1


def test_stale_current_cluster_file(ray_cluster, tmp_path):
    port = free_port()
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}\n")
    result = run_seedcore(["--address", "auto", "diagnose", "-o", "json"], env={"RAY_TMPDIR": str(tmp_path)})
    found = checks(result.stdout)
    assert found["address"]["status"] == "fail"
    assert "stale current-cluster file" in found["address"]["seen"]
    assert str(tmp_path / "ray" / "ray_current_cluster") in found["address"]["seen"]
    assert "seedcore cluster start" in found["address"]["hint"] and "RAY_ADDRESS" in found["address"]["hint"]
    assert found["reachability"]["status"] == "skip"
    assert result.returncode == 1


# --- configuration -------------------------------------------------------------------------------


def test_seedcore_ns_and_ray_namespace_disagree(ray_cluster, deployed, cli):
    env = {"SEEDCORE_NS": deployed, "RAY_NAMESPACE": "someone-else"}
    args = ["--address", ray_cluster.gcs_address, "diagnose", "-o", "json"]
    result = cli(args, env=env)
    found = checks(result.stdout)
    assert found["configuration"]["status"] == "warn"
    assert "SEEDCORE_NS" in found["configuration"]["seen"] and "'someone-else'" in found["configuration"]["seen"]
    assert found["configuration"]["hint"]
    assert found["namespace"]["status"] == "ok"  # SEEDCORE_NS wins, and the actors are there
    assert result.exit_code == 0
    from seedcore_cli.ray_boundary import connection

    connection.disconnect()
    strict = cli(args[:-2] + ["--strict", "-o", "json"], env=env)
    assert strict.exit_code == 1 and verdict(strict.stdout)["verdict"] == "fail"


def test_malformed_address_reported_and_later_checks_skipped(cli):
    result = cli(["diagnose", "-o", "json"], env={"RAY_ADDRESS": "http://127.0.0.1:6379"})
    found = checks(result.stdout)
    assert found["configuration"]["status"] == "fail"
    assert "unknown scheme" in found["configuration"]["seen"] and "from RAY_ADDRESS" in found["configuration"]["seen"]
    assert found["local_install"]["status"] == "ok"
    assert found["address"]["status"] == "skip" and "configuration failed" in found["address"]["seen"]
    assert result.exit_code == 1


def test_legacy_ray_host_disagreeing_with_ray_address(ray_cluster, deployed, cli):
    env = {"RAY_ADDRESS": ray_cluster.gcs_address, "RAY_HOST": "127.0.0.1", "RAY_PORT": "10001",
           "SEEDCORE_NS": deployed}
    result = cli(["diagnose", "-o", "json"], env=env)
    conf = checks(result.stdout)["configuration"]
    assert conf["status"] == "warn"
    assert "RAY_HOST/RAY_PORT say ray://127.0.0.1:10001" in conf["seen"] and "RAY_ADDRESS" in conf["hint"]
    assert result.exit_code == 0


def test_nothing_configured_and_no_cluster_on_this_machine(cli, tmp_path):
    env = {"RAY_TMPDIR": str(tmp_path), "SEEDCORE_STATE_DIR": str(tmp_path / "state")}
    result = cli(["diagnose", "-o", "json"], env=env)
    found = checks(result.stdout)
    assert found["configuration"]["status"] == "ok"
    assert found["address"]["status"] == "fail" and "no Ray cluster runs" in found["address"]["seen"]
    assert "seedcore cluster start" in found["address"]["hint"]
    assert found["reachability"]["status"] == "skip"
    assert result.exit_code == 1


# --- namespace and singletons --------------------------------------------------------------------


def test_singletons_alive_in_another_namespace(ray_cluster, deployed, namespace, cli):
    result = cli(["--address", ray_cluster.gcs_address, "--namespace", namespace, "diagnose", "-o", "json"])
    found = checks(result.stdout)
    ns = found["namespace"]
    assert ns["status"] == "fail"
    assert f"'{namespace}'" in ns["seen"] and "holds none of SeedCore's actors" in ns["seen"]
    assert f"actors in {deployed}" in ns["details"]
    assert found["singletons"]["status"] == "fail" and "missing" in found["singletons"]["seen"]
    assert "bootstrap" in found["singletons"]["hint"]
    assert result.exit_code == 1


def test_a_killed_singleton(ray_cluster, namespace, cli, tmp_path):
    import ray

    deploy_singletons(ray_cluster.gcs_address, namespace, tmp_path)
    try:
        kill_named(ray_cluster.gcs_address, namespace, ["mw"], tmp_path)
        result = cli(["--address", ray_cluster.gcs_address, "--namespace", namespace, "diagnose", "-o", "json"])
        found = checks(result.stdout)
        single = found["singletons"]
        assert single["status"] == "fail"
        # the same model as `organism status`: the State API remembers how it died
        assert "mw dead (it was killed by `ray.kill`)" in single["seen"] and "shared_cache" not in single["seen"]
        assert f"SEEDCORE_NS={namespace} seedcore bootstrap" in single["hint"]
        assert found["namespace"]["status"] == "ok"
        assert result.exit_code == 1
        with pytest.raises(ValueError):  # Ray agrees: the name is free
            ray.get_actor("mw", namespace=namespace)
    finally:
        kill_named(ray_cluster.gcs_address, namespace, SINGLETON_NAMES, tmp_path)


def test_a_singleton_name_held_by_another_class(ray_cluster, namespace, cli, tmp_path):
    import ray

    from seedcore_cli.ray_boundary import connection

    class Impostor:
        def ping(self):
            return "not the cache"

    try:
        _connect(ray_cluster.gcs_address, namespace, tmp_path)
        impostor = ray.remote(num_cpus=0)(Impostor).options(
            name="shared_cache", namespace=namespace, lifetime="detached").remote()
        assert ray.get(impostor.ping.remote(), timeout=60) == "not the cache"
        connection.disconnect()
        result = cli(["--address", ray_cluster.gcs_address, "--namespace", namespace, "diagnose", "-o", "json"])
        single = checks(result.stdout)["singletons"]
        assert single["status"] == "fail"
        assert "shared_cache conflict (held by a Impostor, expected SharedCache)" in single["seen"]
        assert "another class" in single["hint"]
        assert result.exit_code == 1
    finally:
        connection.disconnect()
        kill_named(ray_cluster.gcs_address, namespace, ["shared_cache"], tmp_path)


def test_a_killed_agent_degrades_the_organism(ray_cluster, namespace, cli, tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_CONFIG)
    names = deploy_organism(ray_cluster.gcs_address, namespace, tmp_path, config)
    try:
        kill_named(ray_cluster.gcs_address, namespace, ["utility_organ_9_agent_0"], tmp_path)
        args = ["--address", ray_cluster.gcs_address, "--namespace", namespace, "diagnose", "-o", "json"]
        result = cli(args + ["--config", str(config)])
        found = checks(result.stdout)
        org = found["organism"]
        assert org["status"] == "fail"
        assert "1/1 organs healthy" not in org["seen"] and "0/1 agents healthy" in org["seen"]
        assert "agent utility_organ_9_agent_0: dead" in org["seen"] and "bootstrap" in org["hint"]
        assert found["singletons"]["status"] == "ok"
        assert result.exit_code == 1
    finally:
        kill_named(ray_cluster.gcs_address, namespace, names, tmp_path)


# --- secrets -------------------------------------------------------------------------------------

SECRET_VALUES = ("file-pass-7f3a91", "file-api-key-c0ffee", "env-secret-token-99ab", "env-ray-token-d00d")


def test_secrets_in_dotenv_and_environment_are_never_printed(ray_cluster, deployed, tmp_path):
    env_file = tmp_path / "prod.env"
    env_file.write_text(f"RAY_ADDRESS={ray_cluster.gcs_address}\nSEEDCORE_NS={deployed}\n"
                        f"DB_PASSWORD={SECRET_VALUES[0]}\nMY_API_KEY={SECRET_VALUES[1]}\n")
    env = {"SEEDCORE_SECRET_TOKEN": SECRET_VALUES[2], "RAY_AUTH_TOKEN": SECRET_VALUES[3]}
    for args in (["diagnose"], ["diagnose", "-o", "json"], ["-v", "diagnose"], ["-v", "diagnose", "-o", "json"]):
        result = run_seedcore(["--env-file", str(env_file), *args], env=env)
        both = result.stdout + result.stderr
        for secret in SECRET_VALUES:
            assert secret not in both, (args, secret)
        assert result.returncode == 0, both
        if "-o" in args:
            found = checks(result.stdout)
            assert found["configuration"]["status"] == "ok"
            assert "DB_PASSWORD" in found["configuration"]["seen"]
            if "-v" in args:
                details = found["configuration"]["details"]
                assert details[".env DB_PASSWORD"] == "****" and details[".env MY_API_KEY"] == "****"
                assert details["RAY_AUTH_TOKEN"] == "****" and details["SEEDCORE_SECRET_TOKEN"] == "****"
            sec = found["dashboard_security"]
            assert sec["status"] == "ok" and "token is available (RAY_AUTH_TOKEN)" in sec["seen"]


# --- start-up ------------------------------------------------------------------------------------


def test_diagnose_help_does_not_import_ray(tmp_path):
    code = ("import sys, io, contextlib\nfrom seedcore_cli.cli.app import app\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        app(['diagnose', '--help'], prog_name='seedcore')\n"
            "    except SystemExit:\n        pass\n"
            "print('RAY' if 'ray' in sys.modules else 'NORAY')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, SEEDCORE_STATE_DIR=str(tmp_path)), timeout=60)
    assert result.stdout.strip().endswith("NORAY"), result.stdout + result.stderr


def test_bad_flag_exits_2(cli):
    result = cli(["diagnose", "--timeout", "0"])
    assert result.exit_code == 2
