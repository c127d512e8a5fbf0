"""The settings resolver: precedence, sources, .env handling and bad values (no Ray needed)."""

from pathlib import Path

import pytest

from seedcore_cli.errors import SettingsError
from seedcore_cli.settings import parse_address, resolve, Sourced


def test_defaults_when_nothing_is_set(tmp_path):
    s = resolve(environ={}, cwd=tmp_path)
    assert s.address is None and s.target.kind == "default"
    assert (s.namespace.value, s.namespace.source) == ("seedcore-dev", "default")
    assert s.env_file is None and s.warnings == ()


def test_flag_beats_env_beats_dotenv(tmp_path):
    (tmp_path / ".env").write_text("RAY_ADDRESS=10.0.0.9:6379\nSEEDCORE_NS=from-file\n")
    env = {"RAY_ADDRESS": "127.0.0.1:7000"}
    s = resolve(environ=env, cwd=tmp_path)
    assert (s.address.value, s.address.source) == ("127.0.0.1:7000", "RAY_ADDRESS")
    assert s.namespace.value == "from-file"
    assert s.namespace.source == f"SEEDCORE_NS in .env ({tmp_path / '.env'})"
    s = resolve(address="ray://127.0.0.1:10001", namespace="flagged", environ=env, cwd=tmp_path,
                labels={"address": "--address", "namespace": "--namespace"})
    assert s.address.source == "--address" and s.target.kind == "client"
    assert (s.namespace.value, s.namespace.source) == ("flagged", "--namespace")
    assert s.env_file == tmp_path / ".env"
    assert s.env_file_keys == ("RAY_ADDRESS", "SEEDCORE_NS")


def test_explicit_env_file_and_missing_one(tmp_path):
    custom = tmp_path / "prod.env"
    custom.write_text("RAY_NAMESPACE=prod\n")
    s = resolve(env_file=custom, environ={}, cwd=tmp_path)
    assert s.namespace.value == "prod" and str(custom) in s.namespace.source
    with pytest.raises(SettingsError, match="does not exist"):
        resolve(env_file=tmp_path / "nope.env", environ={}, cwd=tmp_path)


def test_seedcore_ns_wins_over_ray_namespace_with_a_warning(tmp_path):
    s = resolve(environ={"SEEDCORE_NS": "a", "RAY_NAMESPACE": "b"}, cwd=tmp_path)
    assert s.namespace == Sourced("a", "SEEDCORE_NS")
    assert len(s.warnings) == 1 and "SEEDCORE_NS" in s.warnings[0] and "'b'" in s.warnings[0]
    same = resolve(environ={"SEEDCORE_NS": "a", "RAY_NAMESPACE": "a"}, cwd=tmp_path)
    assert same.warnings == ()
    only_ray = resolve(environ={"RAY_NAMESPACE": "b"}, cwd=tmp_path)
    assert only_ray.namespace == Sourced("b", "RAY_NAMESPACE")


def test_legacy_ray_host_and_port(tmp_path):
    s = resolve(environ={"RAY_HOST": "127.0.0.1"}, cwd=tmp_path)
    assert s.target.kind == "client" and s.target.endpoint == "127.0.0.1:10001"
    s = resolve(environ={"RAY_HOST": "127.0.0.1", "RAY_PORT": "20001"}, cwd=tmp_path)
    assert s.address.value == "ray://127.0.0.1:20001" and s.address.source == "RAY_HOST + RAY_PORT"
    # RAY_ADDRESS outranks the legacy pair.
    s = resolve(environ={"RAY_ADDRESS": "auto", "RAY_HOST": "127.0.0.1"}, cwd=tmp_path)
    assert s.target.kind == "auto"
    with pytest.raises(SettingsError, match="RAY_PORT"):
        resolve(environ={"RAY_HOST": "127.0.0.1", "RAY_PORT": "ten"}, cwd=tmp_path)


@pytest.mark.parametrize("raw,kind,endpoint", [
    ("auto", "auto", "auto"),
    ("local", "local", "local"),
    ("127.0.0.1:6379", "gcs", "127.0.0.1:6379"),
    ("localhost", "gcs", "localhost:6379"),
    ("ray://127.0.0.1", "client", "127.0.0.1:10001"),
    ("ray://head.example:10001/", "client", "head.example:10001"),
    ("[::1]:6379", "gcs", "[::1]:6379"),
])
def test_accepted_address_forms(raw, kind, endpoint):
    target = parse_address(Sourced(raw, "--address"))
    assert (target.kind, target.endpoint) == (kind, endpoint)


@pytest.mark.parametrize("raw,message", [
    ("http://127.0.0.1:8265", "unknown scheme 'http://'"),
    (":6379", "empty host"),
    ("ray://:10001", "empty host"),
    ("127.0.0.1:abc", "'abc'.*is not a number"),
    ("127.0.0.1:0", "out of range"),
    ("127.0.0.1:70000", "out of range"),
    ("bad host:1", "invalid host"),
])
def test_bad_addresses_name_value_and_source(raw, message):
    with pytest.raises(SettingsError, match=message) as info:
        parse_address(Sourced(raw, "RAY_ADDRESS"))
    assert "RAY_ADDRESS" in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("value", ["", "   ", "has space", "x" * 129])
def test_bad_namespaces(tmp_path, value):
    with pytest.raises(SettingsError, match="namespace") as info:
        resolve(environ={"SEEDCORE_NS": value}, cwd=tmp_path)
    assert "SEEDCORE_NS" in str(info.value)


def test_empty_ray_address_counts_as_unset(tmp_path):
    assert resolve(environ={"RAY_ADDRESS": ""}, cwd=tmp_path).target.kind == "default"
