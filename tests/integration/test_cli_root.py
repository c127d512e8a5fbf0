"""The root callback, start-up cost, error mapping and output conventions of `seedcore`."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.heads import free_port, run_seedcore

PACKAGE = Path(__file__).resolve().parents[2] / "seedcore_cli"

_NO_RAY_PROBE = """
import sys, io, contextlib
from seedcore_cli.cli.app import app
args = sys.argv[1:]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        app(args, prog_name="seedcore")
    except SystemExit:
        pass
print("ray imported" if "ray" in sys.modules else "ray not imported")
"""


@pytest.mark.parametrize("args", [
    ["--help"], ["--version"], ["info", "--help"], ["cluster", "--help"], ["cluster", "status"],
    ["info", "--no-such-flag"],
])
def test_commands_that_need_no_cluster_never_import_ray(args, tmp_path):
    env = {"SEEDCORE_STATE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", _NO_RAY_PROBE, *args], capture_output=True,
                            text=True, env={**__import__("os").environ, **env}, timeout=60)
    assert result.stdout.strip().endswith("ray not imported"), result.stdout + result.stderr


def test_completion_answers_without_importing_ray():
    env = {"_SEEDCORE_COMPLETE": "complete_bash", "COMP_WORDS": "seedcore clu", "COMP_CWORD": "1"}
    code = "import sys; from seedcore_cli.cli.app import main\ntry:\n main()\nexcept SystemExit: pass\nprint('RAY' if 'ray' in sys.modules else 'NORAY')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**__import__("os").environ, **env}, timeout=60)
    assert "cluster" in result.stdout.split() and result.stdout.split()[-1] == "NORAY"


def test_only_the_connection_module_calls_ray_init():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "init":
                target = node.func.value
                if isinstance(target, ast.Name) and target.id == "ray" and path.name != "connection.py":
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_no_module_level_ray_import_in_the_cli_layer():
    for path in (PACKAGE / "cli").rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "ray" or n.startswith("ray.") for n in names), path


def test_version():
    result = run_seedcore(["--version"])
    assert result.returncode == 0 and result.stdout.startswith("seedcore ")


def test_root_callback_connects_once_and_hands_the_connection_over(ray_cluster, namespace, cli, monkeypatch):
    import ray

    calls = []
    real_init = ray.init
    monkeypatch.setattr(ray, "init", lambda *a, **k: calls.append(k) or real_init(*a, **k))
    result = cli(["--address", ray_cluster.gcs_address, "--namespace", namespace, "info", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)  # JSON only on stdout
    assert info["namespace"] == namespace and info["address_source"] == "--address"
    assert len(calls) == 1 and calls[0]["namespace"] == namespace
    assert ray.get_runtime_context().namespace == namespace


def test_namespace_and_address_from_dotenv_and_env(ray_cluster, tmp_path):
    (tmp_path / ".env").write_text(f"RAY_ADDRESS={ray_cluster.gcs_address}\nSEEDCORE_NS=from-dotenv\n")
    result = run_seedcore(["info", "-o", "json"], cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["namespace"] == "from-dotenv" and info["namespace_source"].startswith("SEEDCORE_NS in .env")
    assert info["address_source"].startswith("RAY_ADDRESS in .env")
    # The process environment beats the file; a flag beats both.
    result = run_seedcore(["info", "-o", "json"], cwd=str(tmp_path), env={"SEEDCORE_NS": "from-env"})
    assert json.loads(result.stdout)["namespace"] == "from-env"
    result = run_seedcore(["--namespace", "from-flag", "info", "-o", "json"], cwd=str(tmp_path),
                          env={"SEEDCORE_NS": "from-env"})
    assert json.loads(result.stdout)["namespace"] == "from-flag"


def test_conflicting_namespace_variables_warn_on_stderr(ray_cluster):
    result = run_seedcore(["--address", ray_cluster.gcs_address, "info", "-o", "json"],
                          env={"SEEDCORE_NS": "alpha", "RAY_NAMESPACE": "beta"})
    assert result.returncode == 0
    assert json.loads(result.stdout)["namespace"] == "alpha"
    assert "SEEDCORE_NS='alpha' and RAY_NAMESPACE='beta' differ" in result.stderr


@pytest.mark.parametrize("args,env,needle", [
    (["--address", "http://127.0.0.1:1", "info"], {}, "address 'http://127.0.0.1:1' (from --address) has unknown scheme"),
    (["info"], {"RAY_ADDRESS": "127.0.0.1:notaport"}, "'notaport' (from RAY_ADDRESS) is not a number"),
    (["info"], {"RAY_ADDRESS": ":6379"}, "(from RAY_ADDRESS) has an empty host"),
    (["--namespace", " ", "info"], {}, "namespace ' ' (from --namespace) is empty"),
    (["info"], {"SEEDCORE_NS": "has space"}, "(from SEEDCORE_NS) is invalid"),
    (["--env-file", "/nonexistent/.env", "info"], {}, "env file '/nonexistent/.env' (from --env-file) does not exist"),
])
def test_bad_input_exits_2_with_one_line(args, env, needle, cli):
    result = cli(args, env=env)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert result.stdout == ""


def test_usage_errors_exit_2_before_connecting(cli):
    # An unreachable address would exit 3 if the callback connected first.
    result = cli(["--address", f"127.0.0.1:{free_port()}", "info", "--bogus"])
    assert result.exit_code == 2 and "No such option: --bogus" in result.stderr


def test_traceback_only_with_verbose_or_debug():
    address = f"127.0.0.1:{free_port()}"
    quiet = run_seedcore(["--address", address, "info"])
    assert quiet.returncode == 3 and "Traceback" not in quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) == 1
    loud = run_seedcore(["--address", address, "info"], env={"SEEDCORE_DEBUG": "1"})
    assert loud.returncode == 3 and "Traceback" in loud.stderr
    verbose = run_seedcore(["-v", "--address", address, "info"])
    assert "Traceback" in verbose.stderr and "(from --address)" in verbose.stderr


def test_unreadable_or_odd_environment_values_are_bad_input(tmp_path, cli):
    (tmp_path / "latin1.env").write_bytes("SEEDCORE_NS=caf\xe9\n".encode("latin-1"))
    result = cli(["--env-file", str(tmp_path / "latin1.env"), "info"])
    assert result.exit_code == 2 and "cannot be read" in result.stderr and "latin1.env" in result.stderr
    result = cli(["info"], env={"RAY_HOST": "127.0.0.1", "RAY_PORT": "\u00b2"})
    assert result.exit_code == 2 and "(from RAY_PORT) is not a number" in result.stderr
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("")
    result = cli(["cluster", "status"], env={"SEEDCORE_STATE_DIR": str(a_file)})
    assert result.exit_code == 2 and "(from SEEDCORE_STATE_DIR) is not a directory" in result.stderr


def test_dry_run_bootstrap_never_starts_a_cluster(tmp_path):
    env = {"RAY_TMPDIR": str(tmp_path), "SEEDCORE_STATE_DIR": str(tmp_path / "state")}
    result = run_seedcore(["bootstrap", "--dry-run"], env=env)
    assert result.returncode == 3 and "seedcore cluster start" in result.stderr
    assert not (tmp_path / "state" / "local-cluster.json").exists()


def test_colour_follows_the_terminal_and_the_switches(ray_cluster):
    """FORCE_COLOR makes Rich colour a pipe (as on a terminal); NO_COLOR and --no-color undo it."""
    args = ["--address", ray_cluster.gcs_address, "info"]
    warn = {"SEEDCORE_NS": "alpha", "RAY_NAMESPACE": "beta"}  # a yellow warning on stderr
    coloured = run_seedcore(args, env={**warn, "FORCE_COLOR": "1"})
    assert coloured.returncode == 0 and "\x1b[33m" in coloured.stderr  # the control case
    plain = run_seedcore(args, env=warn)
    assert "\x1b[" not in plain.stdout + plain.stderr
    for extra_args, extra_env in (([], {"NO_COLOR": "1"}), (["--no-color"], {})):
        result = run_seedcore(extra_args + args, env={**warn, "FORCE_COLOR": "1", **extra_env})
        assert result.returncode == 0 and "\x1b[33m" not in result.stderr and "differ" in result.stderr


def _leaf_commands(command, path=()):
    """(path, click command) for every leaf command of the app."""
    commands = getattr(command, "commands", None)
    if not commands:
        yield path, command
        return
    for name, sub in commands.items():
        yield from _leaf_commands(sub, (*path, name))


def test_every_command_declares_whether_it_connects():
    """The connection policy lives on the commands (each asks the Application: `seedcore.connect(...)`
    or `seedcore.try_connect(...)`); `cluster ...` and `lint` never connect."""
    import typer

    from seedcore_cli.cli.app import app

    leaves = dict(_leaf_commands(typer.main.get_command(app)))
    assert ("organism", "status") in leaves and ("cluster", "start") in leaves
    for path, command in leaves.items():
        assert _declares(command.callback) == (path[0] not in ("cluster", "lint")), path


def _declares(callback) -> bool:
    # Typer wraps our function; follow the chain down to the command itself, whose body must ask
    # the Application for the connection (a call of .connect or .try_connect).
    import inspect
    import textwrap

    while getattr(callback, "__wrapped__", None) is not None:
        callback = callback.__wrapped__
    tree = ast.parse(textwrap.dedent(inspect.getsource(callback)))
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr in ("connect", "try_connect") for node in ast.walk(tree))


@pytest.mark.parametrize("command", [["info"], ["actors", "list"], ["organism", "status"], ["diagnose"],
                                     ["bootstrap", "--dry-run"], ["organism", "teardown", "--yes"],
                                     ["connections"]])
def test_namespace_after_every_connecting_command_one_init(ray_cluster, namespace, cli, monkeypatch, command):
    import ray

    calls = []
    real_init = ray.init
    monkeypatch.setattr(ray, "init", lambda *a, **k: calls.append(k) or real_init(*a, **k))
    result = cli(["--address", ray_cluster.gcs_address, *command, "--namespace", namespace])
    assert result.exit_code in (0, 1), result.stderr  # an empty namespace is unhealthy: exit 1
    assert [c["namespace"] for c in calls] == [namespace]
    assert ray.get_runtime_context().namespace == namespace


@pytest.mark.parametrize("command", [["organism", "status"], ["diagnose"]])
def test_each_config_file_is_read_once(ray_cluster, namespace, cli, monkeypatch, tmp_path, command):
    from seedcore_cli.organism import config

    reads = []
    real_load = config.load
    monkeypatch.setattr(config, "load", lambda path=None, *a, **k: reads.append(path) or real_load(path, *a, **k))
    target = tmp_path / "organism.yaml"
    target.write_text(Path(config.__file__).parent.parent.joinpath("config", "defaults.yaml").read_text())
    result = cli(["--address", ray_cluster.gcs_address, "--namespace", namespace, *command,
                  "--config", str(target), "-o", "json"])
    assert result.exit_code == 1, result.stderr  # nothing bootstrapped in this namespace
    assert reads == [target]


def test_no_connection_before_parsing_is_done(cli, monkeypatch):
    from seedcore_cli.ray_boundary import connection

    monkeypatch.setattr(connection, "connect", lambda *a, **k: pytest.fail("connected before parsing finished"))
    for args in (["bootstrap", "--bogus"], ["organism", "status", "--config", "/nonexistent.yaml"],
                 ["actors", "list", "--limit", "0"], ["info", "--namespace", "has space"]):
        result = cli(args)
        assert result.exit_code == 2, (args, result.stderr)


@pytest.mark.parametrize("content", [b"not-an-address", b"127.0.0.1:notaport", b"\x89PNG\r\n\x1a\n\x00\xff"])
def test_a_malformed_ray_current_cluster_exits_2_and_fails_one_diagnose_check(tmp_path, cli, content):
    (tmp_path / "ray").mkdir()
    record = tmp_path / "ray" / "ray_current_cluster"
    record.write_bytes(content)
    env = {"RAY_TMPDIR": str(tmp_path), "SEEDCORE_STATE_DIR": str(tmp_path / "state")}
    for address in ([], ["--address", "auto"]):
        result = cli([*address, "info"], env=env)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1, result.stderr
        assert str(record) in lines[0] and "internal error" not in lines[0] and lines[0].isprintable()
    result = cli(["diagnose", "-o", "json"], env=env)
    assert result.exit_code == 1, result.stderr
    found = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    assert found["address"]["status"] == "fail" and str(record) in found["address"]["seen"]
    assert "delete it" in found["address"]["hint"] and found["configuration"]["status"] == "ok"


def test_a_bad_dotenv_exits_2_and_fails_the_configuration_check(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SEEDCORE_NS=fine\ngarbage line\n")
    result = cli(["info"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert f"env file '{tmp_path / '.env'}' (from the working directory) line 2: not KEY=VALUE" in result.stderr
    result = cli(["diagnose", "-o", "json"])
    assert result.exit_code == 1, result.stderr
    configuration = json.loads(result.stdout)["checks"][0]
    assert configuration["id"] == "configuration" and configuration["status"] == "fail"
    assert "line 2: not KEY=VALUE" in configuration["seen"] and "nothing in the .env file was used" in configuration["seen"]


@pytest.mark.parametrize("args", [["actors", "list", "--state", "x" * 5000], ["x" * 5000], ["info", "--" + "x" * 5000],
                                  ["--namespace", "x" * 5000, "info"], ["cluster", "status", "-o", "x" * 5000]])
def test_long_values_are_cut_in_usage_and_input_errors(cli, args):
    result = cli(args)
    assert result.exit_code == 2 and "... (500" in result.stderr
    assert max(len(line) for line in result.stderr.splitlines()) < 400, result.stderr


@pytest.mark.parametrize("broken", ["record", "state_dir"])
def test_diagnose_reports_a_broken_local_state_as_a_failed_check(tmp_path, cli, broken):
    state = tmp_path / "state"
    if broken == "record":
        state.mkdir()
        (state / "local-cluster.json").write_text('{"pid": "abc"}')
        needle = f"local cluster state file {state / 'local-cluster.json'} is corrupt"
    else:
        state.write_text("")
        state = state / "below"
        needle = "(from SEEDCORE_STATE_DIR) is not a directory"
    result = cli(["diagnose", "-o", "json"], env={"SEEDCORE_STATE_DIR": str(state), "RAY_TMPDIR": str(tmp_path)})
    assert result.exit_code == 1, result.stderr
    found = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    assert found["address"]["status"] == "fail" and needle in found["address"]["seen"], found["address"]
