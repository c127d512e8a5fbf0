"""The ha/ overlay's Redis (deploy/kubernetes/ha/redis.yaml), run here as far as this machine can:
its container's own command and script under Debian's redis-server, on 127.0.0.1, with the
password in REDIS_PASSWORD as Kubernetes sets it from the Secret seedcore-redis. It must require
exactly that password (what the GCS sends, test_fault_tolerant_gcs.py), keep what it holds across a
restart (the append-only file on its volume), pass its readiness probe only with the password, and
refuse at once, in one line, a password that Redis' config file and KubeRay's `ray start` command
line would read differently.

No Ray here. Skipped when redis-server is not installed (.ci/run installs Debian's package).
"""

from __future__ import annotations

import secrets
import shutil
import stat
import subprocess

import pytest
from support.fault_tolerant import LOOPBACK, ha_redis, ha_redis_container, start_ha_redis_container

from seedcore_cli.local.cluster import free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed (apt install redis-server)")


@pytest.fixture
def redis(tmp_path):
    server = ha_redis(tmp_path, secrets.token_hex(32))
    yield server
    server.stop()


def test_it_requires_the_secrets_password_and_nothing_else(redis):
    assert redis.cli("ping").stdout.strip() == "PONG"
    assert "NOAUTH" in redis.cli("ping", password="").stdout
    wrong = redis.cli("ping", password=secrets.token_hex(32))
    assert "WRONGPASS" in wrong.stderr and "PONG" not in wrong.stdout


def test_it_runs_with_the_configuration_the_manifest_gives(redis, tmp_path):
    def config(name: str) -> str:
        lines = redis.cli("config", "get", name).stdout.splitlines()
        assert lines[0] == name, lines
        return lines[1]

    assert config("appendonly") == "yes"  # the GCS state survives a Redis restart
    assert config("appendfsync") == "everysec"
    assert config("maxmemory-policy") == "noeviction"  # Redis never drops GCS keys to make room
    assert config("dir") == str(tmp_path / "data")  # on the PersistentVolume in the pod
    conf = tmp_path / "config" / "redis.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600  # the password file: the Redis user's alone
    assert conf.read_text() == f'requirepass "{redis.password}"\n'


def test_the_readiness_probe_passes_with_the_password_only(redis):
    container = ha_redis_container()
    command = container["readinessProbe"]["exec"]["command"]
    script = command[-1]
    assert script.count("redis-cli ") == 1
    here = [*command[:-1], script.replace("redis-cli ", f"redis-cli -h {LOOPBACK} -p {redis.port} ")]

    def probe(password: str) -> int:
        env = {"PATH": "/usr/bin:/bin", "REDIS_PASSWORD": password}  # the container's environment
        return subprocess.run(here, env=env, capture_output=True, timeout=10, check=False).returncode

    assert probe(redis.password) == 0
    assert probe(secrets.token_hex(32)) != 0
    assert container["livenessProbe"]["tcpSocket"]["port"] in [p["name"] for p in container["ports"]]


def test_a_restarted_redis_keeps_what_it_held(tmp_path):
    password = secrets.token_hex(32)
    first = ha_redis(tmp_path, password)
    try:
        assert first.cli("set", "RAYseedcore@KV", "kept").stdout.strip() == "OK"
    finally:
        first.stop()  # the pod stops (SIGTERM); its volume stays
    second = ha_redis(tmp_path, password)
    try:
        assert second.cli("get", "RAYseedcore@KV").stdout.strip() == "kept"
    finally:
        second.stop()


@pytest.mark.parametrize("password", ["", 'with"quote', "back\\x41slash", "two words", "semi;colon", "glob*"],
                         ids=["empty", "quote", "backslash", "space", "semicolon", "glob"])
def test_a_password_read_differently_elsewhere_stops_the_container_in_one_line(tmp_path, password):
    process = start_ha_redis_container(tmp_path, password, free_port())
    try:
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    log = (tmp_path / "redis.log").read_text()
    assert code == 1, log
    assert len(log.strip().splitlines()) == 1, log
    assert "Secret seedcore-redis (key password)" in log and "openssl rand -hex 32" in log
    assert not password or password not in log  # never the password itself
    assert not (tmp_path / "config" / "redis.conf").exists()


@pytest.mark.parametrize("password", [secrets.token_hex(32), secrets.token_urlsafe(32), "Ab+/=09_.-"],
                         ids=["hex", "base64url", "every-allowed-sign"])
def test_passwords_of_hex_and_base64_start_redis(tmp_path, password):
    server = ha_redis(tmp_path, password)  # returns once an authenticated PING is answered
    try:
        assert "NOAUTH" in server.cli("ping", password="").stdout
    finally:
        server.stop()
