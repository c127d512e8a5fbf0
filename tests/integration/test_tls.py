"""TLS end to end, against a real head started with RAY_USE_TLS=1 and a throwaway CA.

With the same RAY_USE_TLS/RAY_TLS_* variables every command works in driver and Ray Client
mode; every mismatch (plaintext against TLS, TLS against plaintext, an untrusted certificate)
exits 3 in one line naming TLS, and unusable certificate settings exit 2 naming the variable.
"""

from __future__ import annotations

import json

import pytest
from support.heads import LOOPBACK, run_client, run_seedcore, start_head, stop_head
from support.tls_certs import make_tls_files


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_head(tls_files):
    process, cluster = start_head(env=tls_files)
    yield cluster
    stop_head(process)


def addresses(cluster):
    return [(cluster.gcs_address, run_seedcore), (cluster.client_address, run_client)]


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_the_probe_speaks_tls_and_names_each_mismatch(tls_head, tls_files, tmp_path, ray_cluster):
    from seedcore_cli.ray_boundary import probe, tls

    files = tls.files_from_env(tls_files)
    assert probe.protocol_of(LOOPBACK, tls_head.gcs_port, tls=files).name == probe.GCS
    assert probe.protocol_of(LOOPBACK, tls_head.client_port, tls=files).name == probe.CLIENT
    assert probe.protocol_of(LOOPBACK, tls_head.gcs_port).name == probe.TLS_REQUIRED
    assert probe.protocol_of(LOOPBACK, ray_cluster.gcs_port, tls=files).name == probe.TLS_NOT_SPOKEN
    stranger = tls.files_from_env(make_tls_files(tmp_path / "other", "stranger"))
    assert probe.protocol_of(LOOPBACK, tls_head.gcs_port, tls=stranger).name == probe.TLS_UNTRUSTED


@pytest.mark.timeout(900)
def test_every_command_works_over_tls_in_both_modes(tls_head, tls_files, namespace):
    # Ray 2.60's Ray Client proxy on a fresh TLS head loses the dedicated server it starts for
    # the first session or two (the process exits at once; Ray answers "Initialization failure
    # from server" after ~40 s). seedcore retries that within --connect-timeout: give it room
    # (a try in flight may finish past the budget, hence the longer process timeout).
    env = {**tls_files, "SEEDCORE_CONNECT_TIMEOUT": "150"}
    for address, run in addresses(tls_head):
        base = ["--address", address, "--namespace", namespace]
        boot = run([*base, "bootstrap", "-o", "json"], env=env, timeout=400)
        assert boot.returncode == 0, boot.stderr
        status = run([*base, "organism", "status", "-o", "json"], env=env)
        assert status.returncode == 0 and json.loads(status.stdout)["healthy"] is True, status.stderr
        listed = run([*base, "actors", "list", "-o", "json"], env=env)
        assert listed.returncode == 0, listed.stderr
        assert len([row for row in json.loads(listed.stdout) if row["state"] == "ALIVE"]) == 9
        info = run([*base, "info", "-o", "json"], env=env)
        assert json.loads(info.stdout)["tls"] is True
        diagnosed = run([*base, "diagnose", "-o", "json"], env=env)
        assert diagnosed.returncode == 0, diagnosed.stdout
        down = run([*base, "organism", "teardown", "--yes", "--include-singletons"], env=env)
        assert down.returncode == 0, down.stderr


def test_plaintext_against_a_tls_cluster(tls_head, namespace):
    for address, run in addresses(tls_head):
        result = run(["--address", address, "--namespace", namespace, "organism", "status"])
        assert result.returncode == 3
        line = one_line(result)
        assert "requires TLS and RAY_USE_TLS is not on here" in line and "RAY_TLS_CA_CERT" in line


def test_tls_against_a_plaintext_cluster(ray_cluster, tls_files, namespace):
    for address, run in addresses(ray_cluster):
        result = run(["--address", address, "--namespace", namespace, "organism", "status"], env=tls_files)
        assert result.returncode == 3
        assert "does not speak TLS, but RAY_USE_TLS is on here" in one_line(result)


def test_a_certificate_from_another_ca(tls_head, tmp_path, namespace):
    stranger = make_tls_files(tmp_path / "stranger", "stranger")
    for address, run in addresses(tls_head):
        result = run(["--address", address, "--namespace", namespace, "info"], env=stranger)
        assert result.returncode == 3
        line = one_line(result)
        assert "not signed by the CA in RAY_TLS_CA_CERT" in line and stranger["RAY_TLS_CA_CERT"] in line


@pytest.mark.parametrize("change,needle", [
    ({"RAY_TLS_CA_CERT": ""}, "RAY_USE_TLS is on but RAY_TLS_CA_CERT is not set"),
    ({"RAY_TLS_SERVER_KEY": "/nonexistent/key.pem"}, "RAY_TLS_SERVER_KEY='/nonexistent/key.pem' cannot be read"),
])
def test_unusable_tls_settings_are_bad_input(tls_head, tls_files, change, needle):
    result = run_seedcore(["--address", tls_head.gcs_address, "info"], env={**tls_files, **change})
    assert result.returncode == 2
    assert needle in one_line(result)
