"""Hostile inputs, generated: whatever a user types or leaves lying around, seedcore ends with an
exit code in {0, 1, 2, 3}, no traceback, no "internal error", messages that stay one readable
line, and valid JSON on stdout whenever `-o json` was asked and the command ran (exit 0 or 1).

Hypothesis generates addresses, namespaces, RAY_HOST/RAY_PORT, .env files, Ray's current-cluster
record, seedcore's local-cluster record, organism configs (YAML text and random structures) and
flag values. The parsers and the CLI run in-process (CliRunner); a small sample goes through the
real `python -m seedcore_cli`. No example reaches a cluster: an address that would be valid is
replaced by a closed loopback port (connect() probes it and exits 3 before any ray.init), and Ray's
record and seedcore's state live in temporary directories. What Hypothesis found once stays as an
@example. Derandomized and without a database: CI sees the same examples every run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from support.heads import SEEDCORE

from seedcore_cli import settings as settings_mod
from seedcore_cli.errors import BadInput, ConfigError, SeedcoreError, SettingsError
from seedcore_cli.local import cluster as local_cluster
from seedcore_cli.local import state as local_state
from seedcore_cli.organism import config as organism_config

# SEEDCORE_HOSTILE_EXAMPLES=3000 for a deeper hunt by hand; CI runs the default.
SWEEP = settings(derandomize=True, database=None, deadline=None,
                 max_examples=int(os.environ.get("SEEDCORE_HOSTILE_EXAMPLES", "120")),
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])
FEW = settings(SWEEP, max_examples=6)  # real subprocesses: ~1.5 s each
MAX_LINE = 1000  # a message line's length: values are cut to ~100 characters (errors.quoted)

# --- what a hostile user supplies ---------------------------------------------------------------

# Characters an environment variable or argv can carry (no NUL, no lone surrogates).
_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_TEXT = st.text(_CHARS, max_size=30)
_LONG = st.builds(lambda char, count: char * count, _CHARS, st.integers(150, 6000))
_ODD = st.sampled_from([
    "", " ", "auto", "local", "ray://", "ray://:1", "http://127.0.0.1:1", "[::1", "[::1]:6379", "::", ":",
    "127.0.0.1:notaport", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:\u00b2", "host name:1", "a:b:c",
    "ray://[::1", "RAY://h:1", "-1", "1e3", "0x10", "\u00e9t\u00e9:1", "x\n:1", "\x1b[31m:1", "h:1/path?q",
    "seedcore-dev", "has space", "x" * 129, "ns\t", ".", "..", "/", "~", "NaN", "inf", "0", "65536",
])
VALUE = st.one_of(_TEXT, _ODD, _LONG)
PORT_TEXT = st.one_of(st.integers(-5, 70000).map(str), VALUE)
ADDRESS = st.one_of(VALUE, st.builds(lambda scheme, host, port: f"{scheme}{host}:{port}",
                                     st.sampled_from(["", "ray://", "http://", "grpc://"]),
                                     st.one_of(st.sampled_from(["127.0.0.1", "localhost", "[::1]", ""]), _TEXT),
                                     PORT_TEXT))
ENV_NAMES = ("RAY_ADDRESS", "SEEDCORE_NS", "RAY_NAMESPACE", "RAY_HOST", "RAY_PORT", "SEEDCORE_CONNECT_TIMEOUT",
             "SEEDCORE_ORGANISM_CONFIG", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "RAY_USE_TLS", "RAY_TLS_CA_CERT")
ENVIRON = st.dictionaries(st.sampled_from(ENV_NAMES), VALUE, max_size=3)  # a few: one bad value decides

_KEY = st.sampled_from(["RAY_ADDRESS", "SEEDCORE_NS", "RAY_NAMESPACE", "RAY_HOST", "RAY_PORT", "OTHER", "A_B"])
_DOTENV_LINE = st.one_of(
    st.builds("{}={}".format, _KEY, _TEXT.map(lambda t: t.replace("\n", " "))),
    st.builds("export {}={}".format, _KEY, st.sampled_from(["x", "127.0.0.1:1", "ns"])),
    st.builds('{}="{}"'.format, _KEY, st.sampled_from(["q x", "a'b", "", "ray://h:1"])),
    st.sampled_from(["", "# comment", "garbage line", "=value", 'K="unterminated', "K='a' tail", "BARE", "  ",
                     "K=v # comment", "K=${HOME}/x", "\ufeffK=v", "K=\\", "export", "K==", "-K=v"]),
    _TEXT,
)
DOTENV = st.one_of(st.lists(_DOTENV_LINE, max_size=8).map("\n".join), st.binary(max_size=60))

_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=10)
_RECORD = st.fixed_dictionaries({}, optional={name: st.one_of(_JSON, st.integers(-3, 70000)) for name in (
    "pid", "gcs_port", "client_port", "dashboard_port", "temp_dir", "log_file", "started_at", "auth", "create_time")})
RECORD_BYTES = st.one_of(_RECORD.map(lambda r: json.dumps(r).encode()), _JSON.map(lambda v: json.dumps(v).encode()),
                         st.binary(max_size=80), st.sampled_from([b"", b"{", b"[" * 50_000, b"\xff\xfe"]))

_ORGAN = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.sampled_from(["a", "organ_1", "miss_tracker", "a_agent_0", "bad id!"]), _JSON),
    "type": st.one_of(st.sampled_from(["Cognitive", "Actuator", "Utility", "cognitive"]), _JSON),
    "agent_count": st.one_of(st.integers(-2, 600), _JSON),
    "description": _JSON, "task_types": _JSON, "extra": _JSON,
})
_DOCUMENT = st.one_of(
    st.builds(lambda organs: {"seedcore": {"organism": {"organ_types": organs}}}, st.lists(_ORGAN, max_size=4)),
    st.builds(lambda organs: {"seedcore": {"organism": organs}}, _JSON),
    _JSON,
)
YAML_TEXT = st.one_of(_DOCUMENT.map(lambda d: yaml.safe_dump(d, allow_unicode=True)), st.text(max_size=200),
                      st.sampled_from(["&a [*a]", "? [a]\n: 1", "!!python/object:os.system {}", "[" * 5000,
                                       "a: " + "1" * 5000, "--- a\n--- b", "\t- x", "%YAML 9.9\n---\na"]))


# --- in-process parsers -------------------------------------------------------------------------


def _one_clean_line(err: SeedcoreError) -> None:
    line = err.one_line()
    assert "\n" not in line and "\r" not in line and len(line) < MAX_LINE, line


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@SWEEP
@given(address=st.none() | ADDRESS, namespace=st.none() | VALUE, environ=ENVIRON, dotenv=st.none() | DOTENV)
@example(address=None, namespace="x" * 5000, environ={}, dotenv=None)
@example(address=None, namespace=None, environ={"RAY_HOST": "h", "RAY_PORT": "\u00b2"}, dotenv="garbage line")
@example(address="127.0.0.1:1", namespace=None, environ={}, dotenv=b"SEEDCORE_NS=caf\xe9")
def test_settings_resolve_or_name_the_bad_value(scratch, address, namespace, environ, dotenv):
    cwd = Path(tempfile.mkdtemp(dir=scratch))
    if dotenv is not None:
        (cwd / ".env").write_bytes(dotenv if isinstance(dotenv, bytes) else dotenv.encode())
    try:
        resolved = settings_mod.resolve(address, namespace, environ=environ, cwd=cwd)
    except SettingsError as err:
        _one_clean_line(err)
        return
    if resolved.target.kind in ("gcs", "client"):
        assert 1 <= resolved.target.port <= 65535 and resolved.target.host


@SWEEP
@given(content=st.one_of(st.binary(max_size=80), ADDRESS.map(lambda a: a.encode())))
@example(content=b"not-an-address")
@example(content=b"127.0.0.1:notaport")
@example(content=b"\x89PNG\r\n")
def test_rays_current_cluster_record_is_an_address_or_bad_input(scratch, content):
    record = Path(tempfile.mkdtemp(dir=scratch)) / "ray_current_cluster"
    record.write_bytes(content)
    try:
        address = settings_mod.read_recorded_address(record)
    except SettingsError as err:
        _one_clean_line(err)
        return
    if address is not None:
        settings_mod.split_address(address)  # what connect() does with it next


@contextmanager
def _state_dir(path: Path):
    with mock.patch.dict(os.environ, {"SEEDCORE_STATE_DIR": str(path)}):
        yield


@SWEEP
@given(content=RECORD_BYTES)
@example(content=b'{"pid": "abc"}')
@example(content=b"[" * 50_000)
def test_the_local_cluster_record_is_a_record_or_bad_input(scratch, content):
    state = Path(tempfile.mkdtemp(dir=scratch))
    (state / "local-cluster.json").write_bytes(content)
    with _state_dir(state):
        try:
            status = local_cluster.status()  # read, then identify() the pid it names: never signals
        except BadInput as err:
            _one_clean_line(err)
            return
    assert isinstance(status.cluster, local_state.LocalCluster) and not status.running


@SWEEP
@given(text=YAML_TEXT)
@example(text="seedcore: {organism: {organ_types: [{id: a, type: Utility, agent_count: " + "1" * 5000 + "}]}}")
@example(text="[" * 10_000)
def test_organism_configs_parse_or_name_the_problem(text):
    try:
        parsed = organism_config.parse(text, "hostile.yaml")
    except ConfigError as err:
        _one_clean_line(err)
        return
    assert parsed.organs and all(organ.agent_count >= 0 for organ in parsed.organs)


# --- the CLI ------------------------------------------------------------------------------------

COMMANDS = {
    "info": (["info"], {}),
    "actors": (["actors", "list"], {"--limit": PORT_TEXT, "--state": VALUE, "--name": VALUE}),
    "organism": (["organism", "status"], {"--config": VALUE}),
    "diagnose": (["diagnose"], {"--timeout": PORT_TEXT, "--strict": None}),
    "dry-run": (["bootstrap", "--dry-run"], {"--config": VALUE}),
    "connections": (["connections"], {}),
    "cluster-status": (["cluster", "status"], {}),
    "cluster-stop": (["cluster", "stop"], {}),
}
JSON_OUTPUT = ("info", "actors", "organism", "diagnose", "connections", "cluster-status")


def _flag_value(values):
    # A value that looks like an option would be parsed as one: then where the address comes
    # from could differ from what _disarm works out. Such values are tested as usage errors elsewhere.
    return values.filter(lambda value: not value.startswith("-"))


@st.composite
def invocations(draw):
    """(name, argv, env, wants_json) of one hostile run."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    command, flags = COMMANDS[name]
    argv = []
    sometimes = st.integers(0, 3).map(lambda n: n == 0)  # each flag in a quarter of the runs
    for flag, value in (("--address", ADDRESS), ("--namespace", VALUE), ("--env-file", VALUE),
                        ("--connect-timeout", PORT_TEXT)):
        if draw(sometimes):
            argv += [flag, draw(_flag_value(value))]
    argv += command
    for flag, value in flags.items():
        if draw(sometimes):
            argv += [flag] if value is None else [flag, draw(_flag_value(value))]
    output = draw(st.sampled_from([None, "json", "table", "yaml"])) if name in JSON_OUTPUT else None
    if output:
        argv += ["-o", output]
    env = draw(ENVIRON)
    state_value = draw(st.one_of(st.none(), st.none(), st.none(), VALUE))
    if state_value is not None:
        env["SEEDCORE_STATE_DIR"] = state_value  # relative junk lands in the test's scratch cwd
    return name, argv, env, output == "json"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _disarm(argv: list[str], env: dict[str, str], scratch: Path, cwd: Path) -> tuple[list[str], dict[str, str]]:
    """Never a real cluster: HOME, Ray's record and seedcore's state in a fresh temporary directory
    (an empty SEEDCORE_STATE_DIR means ~/.seedcore), and an address that would resolve to HOST:PORT
    replaced by a closed loopback port (the flag beats every variable): connect() probes it and
    exits 3 before any ray.init."""
    home = Path(tempfile.mkdtemp(dir=scratch))
    env = {**env, "RAY_TMPDIR": str(home / "ray-tmp"), "HOME": str(home)}
    if not env.get("SEEDCORE_STATE_DIR"):
        env["SEEDCORE_STATE_DIR"] = str(home / "state")
    argv = list(argv)
    flag = lambda name: argv[argv.index(name) + 1] if name in argv[:-1] else None  # noqa: E731
    try:
        env_file = flag("--env-file")
        resolved = settings_mod.resolve(flag("--address"), None, Path(env_file) if env_file else None,
                                        environ=env, cwd=cwd)
    except (SettingsError, ValueError):
        return argv, env  # it stops at the settings: nothing to reach
    if resolved.target.kind in ("gcs", "client"):
        closed = f"127.0.0.1:{_closed_port()}"
        if "--address" in argv[:-1]:
            argv[argv.index("--address") + 1] = closed
        else:
            argv = ["--address", closed, *argv]
    return argv, env


def _check(exit_code: int, stdout: str, stderr: str, wants_json: bool) -> None:
    event(f"exit {exit_code}")  # --hypothesis-show-statistics: how the sweep spreads
    assert exit_code in (0, 1, 2, 3), (exit_code, stderr)
    assert "Traceback" not in stdout + stderr and "internal error" not in stderr, stderr
    assert all(len(line) < MAX_LINE for line in stderr.splitlines()), stderr
    if wants_json and exit_code in (0, 1):
        json.loads(stdout)


@SWEEP
@given(invocation=invocations())
@example(invocation=("info", ["--namespace", "x" * 5000, "info"], {}, False))
@example(invocation=("cluster-stop", ["cluster", "stop"], {"SEEDCORE_STATE_DIR": "/dev/null/x"}, False))
@example(invocation=("organism", ["organism", "status", "--config", "a" * 5000], {}, False))
@example(invocation=("actors", ["actors", "list", "--state", "x" * 5000], {}, False))
@example(invocation=("diagnose", ["diagnose", "-o", "json"], {"RAY_USE_TLS": "1", "RAY_TLS_CA_CERT": "x" * 5000}, True))
def test_the_cli_in_process(scratch, invocation):
    from typer.testing import CliRunner

    from seedcore_cli.cli.app import app

    _, argv, env, wants_json = invocation
    argv, env = _disarm(argv, env, scratch, Path.cwd())
    result = CliRunner().invoke(app, argv, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    _check(result.exit_code, result.stdout, result.stderr, wants_json)


@FEW
@given(invocation=invocations())
@example(invocation=("info", ["info"], {"RAY_ADDRESS": "127.0.0.1:notaport"}, False))
def test_the_real_command(scratch, invocation):
    _, argv, env, wants_json = invocation
    argv, env = _disarm(argv, env, scratch, scratch)
    result = subprocess.run(SEEDCORE + argv, env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL, cwd=scratch)
    _check(result.returncode, result.stdout, result.stderr, wants_json)
