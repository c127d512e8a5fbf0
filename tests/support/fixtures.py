"""The suite's fixtures (registered by tests/conftest.py through pytest_plugins).

`ray_cluster`: one real loopback head for the session. `namespace`: a fresh namespace per test.
seedcore's connection is dropped after every test so the next one connects afresh (connect()
refuses a second target while connected, by design). `cli`: the app in-process (CliRunner).
"""

from __future__ import annotations

import uuid

import pytest

from support.heads import start_head, stop_head


@pytest.fixture(scope="session")
def ray_cluster():
    process, cluster = start_head()
    yield cluster
    from seedcore_cli.ray_boundary import connection

    connection.disconnect()
    stop_head(process)


@pytest.fixture
def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _fresh_connection():
    yield
    from seedcore_cli.ray_boundary import connection

    connection.disconnect()


@pytest.fixture
def cli():
    """Invoke the app in-process with typer's CliRunner: cli(args, env=...) -> Result."""
    from typer.testing import CliRunner

    from seedcore_cli.cli.app import app

    runner = CliRunner()

    def invoke(args: list[str], env: dict[str, str] | None = None, input: str | None = None):
        return runner.invoke(app, args, env=env, input=input, catch_exceptions=False)

    return invoke
