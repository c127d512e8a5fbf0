"""The settings resolver: precedence, sources, .env handling and bad values (no Ray needed)."""


import pytest

from seedcore_cli.errors import SettingsError
from seedcore_cli.settings import Sourced, parse_address, resolve


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


# --- .env is strict: a line python-dotenv cannot parse rejects the whole file -------------------


@pytest.mark.parametrize("text,line,needle", [
    ("SEEDCORE_NS=a\ngarbage line\n", 2, "not KEY=VALUE (no '=')"),
    ("# comment\n\n=value\n", 3, "no key before '='"),
    ('SEEDCORE_NS=a\n\n\nRAY_ADDRESS="127.0.0.1:6379\n', 4, "the value of 'RAY_ADDRESS' cannot be parsed"),
    ("RAY_NAMESPACE='a' tail\n", 1, "the value of 'RAY_NAMESPACE' cannot be parsed"),
    ("RAY_ADDRESS\n", 1, "'RAY_ADDRESS' has no '=' and no value"),
])
def test_a_bad_dotenv_line_rejects_the_whole_file(tmp_path, text, line, needle):
    (tmp_path / ".env").write_text(text)
    with pytest.raises(SettingsError) as info:
        resolve(environ={}, cwd=tmp_path)
    message = info.value.message
    assert f".env' (from the working directory) line {line}: {needle}" in message, message
    assert info.value.exit_code == 2 and "nothing in the file was used" in info.value.hint


def test_a_bad_dotenv_line_never_echoes_the_value(tmp_path):
    (tmp_path / "secret.env").write_text('RAY_AUTH_TOKEN="s3cr3t-value\nx y z\n')
    with pytest.raises(SettingsError) as info:
        resolve(env_file=tmp_path / "secret.env", environ={}, cwd=tmp_path)
    assert "s3cr3t" not in info.value.one_line() and "line 1" in info.value.message
    assert "(1 more bad line(s))" in info.value.message


def test_dotenv_forms_that_stay_accepted(tmp_path):
    (tmp_path / ".env").write_text(
        "\ufeff# comment\n\nexport SEEDCORE_NS=from-export\nRAY_ADDRESS = '127.0.0.1:7000'  # trailing\n"
        'RAY_HOST="127.0.0.1"\r\nOTHER=multi word value\nEMPTY=\n')
    s = resolve(environ={}, cwd=tmp_path)
    assert s.namespace.value == "from-export" and s.address.value == "127.0.0.1:7000"
    assert s.env_file_keys == ("EMPTY", "OTHER", "RAY_ADDRESS", "RAY_HOST", "SEEDCORE_NS")


# --- Ray's record of the last `ray start` (what address `auto` reads) -----------------------------


@pytest.mark.parametrize("content", [b"not-an-address", b"127.0.0.1:notaport", b"127.0.0.1:0", b"\xff\xfe\x00junk",
                                     b"ray://127.0.0.1:10001", b"auto", b"127.0.0.1:6379\nsecond line", b"x" * 5000])
def test_a_malformed_ray_current_cluster_is_bad_input_naming_the_file(tmp_path, content):
    from seedcore_cli.settings import read_recorded_address

    record = tmp_path / "ray_current_cluster"
    record.write_bytes(content)
    with pytest.raises(SettingsError) as info:
        read_recorded_address(record)
    line = info.value.one_line()
    assert str(record) in line and "delete it" in line and len(line) < 400 and "\n" not in line


def test_a_well_formed_or_absent_ray_current_cluster(tmp_path):
    from seedcore_cli.settings import read_recorded_address

    record = tmp_path / "ray_current_cluster"
    assert read_recorded_address(record) is None
    record.write_text("")
    assert read_recorded_address(record) is None
    record.write_text("127.0.0.1:6379\n")
    assert read_recorded_address(record) == "127.0.0.1:6379"


# --- long values are cut in messages ---------------------------------------------------------------


def test_a_long_value_is_cut_in_the_message(tmp_path):
    with pytest.raises(SettingsError) as info:
        resolve(namespace="x" * 5000, environ={}, cwd=tmp_path, labels={"namespace": "--namespace"})
    line = info.value.one_line()
    assert "... (5000 characters) (from --namespace)" in line and len(line) < 300
