"""Token authentication end to end, against a real head started with RAY_AUTH_MODE=token.

The user's shell has the token where Ray looks (here: RAY_AUTH_TOKEN_PATH) and RAY_AUTH_MODE
unset, the way most first contacts with a Ray >= 2.59 cluster look. Every command works in
driver and Ray Client mode; without the token, or with a wrong one, seedcore says so in one
line, naming token authentication and where it looked. The token never appears in any output.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

import pytest
from support.heads import LOOPBACK, run_client, run_seedcore, start_head, stop_head

TOKEN_LINE_NEEDLES = ("token authentication", "ray get-auth-token", "kubectl ray get token")


@pytest.fixture(scope="module")
def token_head(tmp_path_factory):
    folder = tmp_path_factory.mktemp("token-head")
    token = secrets.token_hex(32)
    token_file = folder / "auth_token"
    token_file.write_text(token)
    process, cluster = start_head(env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file)},
                                  dashboard_token=token)
    yield cluster, token, token_file
    stop_head(process)


def user_env(token_file: Path | None = None, **extra: str) -> dict[str, str]:
    """A user's shell: RAY_AUTH_MODE unset, the token (if any) where Ray looks, nothing in ~."""
    env = {"HOME": str(Path(os.environ["SEEDCORE_STATE_DIR"]) / "empty-home"), **extra}
    if token_file is not None:
        env["RAY_AUTH_TOKEN_PATH"] = str(token_file)
    return env


def addresses(cluster):
    return [(cluster.gcs_address, run_seedcore), (cluster.client_address, run_client)]


def test_the_probe_sees_the_token_demand_on_both_ports(token_head):
    from seedcore_cli.ray_boundary import probe

    cluster, token, _ = token_head
    for port, kind in ((cluster.gcs_port, probe.GCS), (cluster.client_port, probe.CLIENT)):
        assert probe.protocol_of(LOOPBACK, port) == probe.Protocol(kind, probe.AUTH_MISSING)
        assert probe.protocol_of(LOOPBACK, port, token_header="Bearer nope").auth == probe.AUTH_REFUSED
        accepted = probe.protocol_of(LOOPBACK, port, token_header=f"Bearer {token}")
        assert accepted.name == kind and accepted.auth == probe.AUTH_NONE


@pytest.mark.parametrize("command", [["info"], ["organism", "status"], ["actors", "list"], ["bootstrap"]])
def test_no_token_exits_3_naming_token_auth_and_where_it_looked(token_head, command, namespace):
    cluster, token, _ = token_head
    for address, run in addresses(cluster):
        result = run(["--address", address, "--namespace", namespace, *command], env=user_env())
        assert result.returncode == 3, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr  # no gcs_client.cc warnings, no Python warnings
        for needle in TOKEN_LINE_NEEDLES + ("RAY_AUTH_TOKEN (unset)", "RAY_AUTH_TOKEN_PATH (unset)"):
            assert needle in lines[0], lines[0]
        assert result.stdout == ""


def test_a_wrong_token_is_refused_in_one_line(token_head, namespace, tmp_path):
    cluster, token, _ = token_head
    wrong = tmp_path / "wrong"
    wrong.write_text(secrets.token_hex(32))
    for address, run in addresses(cluster):
        result = run(["--address", address, "--namespace", namespace, "organism", "status"], env=user_env(wrong))
        assert result.returncode == 3
        assert result.stderr.count("\n") == 1
        assert f"refused the token from RAY_AUTH_TOKEN_PATH ({wrong})" in result.stderr
        assert wrong.read_text() not in result.stderr
        # KubeRay's token Secret, made once and read by each pod as it starts (docs/kubernetes.md)
        assert "Secret named after the RayCluster" in result.stderr and "kubectl ray get token" in result.stderr


def _alive(cluster, token: str, namespace: str) -> set[str]:
    """Names of the namespace's ALIVE actors, from the cluster's State API asked with the token."""
    import urllib.request

    query = f"/api/v0/actors?limit=100&detail=true&filter_keys=ray_namespace&filter_predicates=%3D&filter_values={namespace}"
    request = urllib.request.Request(cluster.dashboard_url + query, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        rows = json.loads(response.read())["data"]["result"]["result"]
    return {row["name"] for row in rows if row["state"] == "ALIVE"}


def test_every_command_works_with_the_token_from_where_ray_looks(token_head, namespace):
    cluster, token, token_file = token_head
    env = user_env(token_file)
    for address, run in addresses(cluster):
        base = ["--address", address, "--namespace", namespace]
        boot = run([*base, "bootstrap", "-o", "json"], env=env)
        assert boot.returncode == 0, boot.stderr
        assert len(_alive(cluster, token, namespace)) == 9
        status = run([*base, "organism", "status", "-o", "json"], env=env)
        assert status.returncode == 0 and json.loads(status.stdout)["healthy"] is True, status.stderr
        listed = run([*base, "actors", "list", "-o", "json"], env=env)
        assert listed.returncode == 0, listed.stderr
        assert {row["name"] for row in json.loads(listed.stdout)} == _alive(cluster, token, namespace)
        info = run(["-v", *base, "info", "-o", "json"], env=env)
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout)["token_source"] == f"RAY_AUTH_TOKEN_PATH ({token_file})"
        assert f"token from RAY_AUTH_TOKEN_PATH ({token_file})" in info.stderr
        diagnosed = run([*base, "diagnose", "-o", "json"], env=env)
        checks = {c["id"]: c for c in json.loads(diagnosed.stdout)["checks"]}
        assert diagnosed.returncode == 0, diagnosed.stdout
        security = checks["dashboard_security"]
        assert "cluster token auth: on (the " in security["seen"] and "demanded a token" in security["seen"]
        assert str(token_file) in security["seen"]
        conns = run([*base, "connections", "-o", "json"], env=env)
        assert conns.returncode == 0, conns.stderr
        mine = [row for row in json.loads(conns.stdout) if row["is_self"]]
        assert len(mine) == 1 and mine[0]["namespace"] == namespace  # the job table read with the token
        down = run([*base, "organism", "teardown", "--yes", "--include-singletons"], env=env)
        assert down.returncode == 0, down.stderr
        assert _alive(cluster, token, namespace) == set()
        for result in (boot, status, listed, info, diagnosed, conns, down):
            assert token not in result.stdout + result.stderr


def test_diagnose_without_the_token_reports_facts_not_guesses(token_head, namespace):
    cluster, _, _ = token_head
    result = run_seedcore(["--address", cluster.gcs_address, "--namespace", namespace, "diagnose", "-o", "json"],
                          env=user_env())
    assert result.returncode == 1
    checks = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["connection"]["status"] == "fail"
    assert "seedcore diagnose" not in checks["connection"]["hint"]
    assert "kubectl ray get token" in checks["connection"]["hint"]
    # no dashboard guessed at a default port; the auth state is the GCS's own answer
    assert "8265" not in checks["reachability"]["seen"]
    assert "dashboard address unknown" in checks["reachability"]["seen"]
    assert checks["reachability"]["status"] != "ok"
    assert "cluster token auth: on (the GCS demanded a token" in checks["dashboard_security"]["seen"]
    assert checks["dashboard_security"]["status"] == "fail"
    assert result.stderr == ""


def test_diagnose_with_a_refused_token_names_kuberays_secret(token_head, namespace, tmp_path):
    """A refused token on KubeRay is most often a Secret that changed after the Ray pods read it:
    diagnose's connection check says so (seedcore cannot read the Secret itself)."""
    cluster, _, _ = token_head
    wrong = tmp_path / "wrong"
    wrong.write_text(secrets.token_hex(32))
    result = run_seedcore(["--address", cluster.gcs_address, "--namespace", namespace, "diagnose", "-o", "json"],
                          env=user_env(wrong))
    assert result.returncode == 1, result.stderr
    connection = {c["id"]: c for c in json.loads(result.stdout)["checks"]}["connection"]
    assert connection["status"] == "fail" and "refused the token" in connection["seen"], connection
    assert "Secret named after the RayCluster" in connection["hint"] and "restart them" in connection["hint"]
    assert wrong.read_text() not in result.stdout


def test_cluster_start_with_token_auth(tmp_path, namespace):
    env = {"SEEDCORE_STATE_DIR": str(tmp_path / "state"), "RAY_TMPDIR": str(tmp_path / "no-ray"),
           **user_env()}
    try:
        started = run_seedcore(["cluster", "start", "--auth", "token", "--num-cpus", "2", "-o", "json"],
                               env=env, timeout=180)
        assert started.returncode == 0, started.stderr
        record = json.loads(started.stdout)
        token_file = Path(record["token_file"])
        assert record["auth"] == "token" and token_file.parent == tmp_path / "state"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert record["other_services"] == f"export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={token_file}"
        from seedcore_cli.ray_boundary import probe

        host, port = record["gcs_address"].split(":")
        assert probe.protocol_of(host, int(port)).auth == probe.AUTH_MISSING  # really token auth
        boot = run_seedcore(["--namespace", namespace, "bootstrap", "-o", "json"], env=env, timeout=180)
        assert boot.returncode == 0, boot.stderr
        status = run_seedcore(["--namespace", namespace, "organism", "status", "-o", "json"], env=env)
        assert status.returncode == 0 and json.loads(status.stdout)["healthy"] is True
        info = run_seedcore(["info", "-o", "json"], env=env)
        assert json.loads(info.stdout)["token_source"] == f"the local cluster ({token_file})"
        shown = run_seedcore(["cluster", "status"], env=env)
        assert "RAY_AUTH_TOKEN_PATH" in shown.stdout and token_file.read_text() not in shown.stdout
        again = run_seedcore(["cluster", "start"], env=env)
        assert again.returncode == 0 and "already runs" in again.stderr  # no preference: fine
        clash = run_seedcore(["cluster", "start", "--auth", "none"], env=env)
        assert clash.returncode == 1 and "already runs with token authentication" in clash.stderr
    finally:
        stopped = run_seedcore(["cluster", "stop"], env=env, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
