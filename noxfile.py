"""The version matrix: the real-cluster smoke subset against each Ray minor pyproject allows.

    nox -s smoke            # every Ray version below (each: CLI and its stock head on that Ray)
    nox -s "smoke(ray='2.59.0')"

CI runs the current version only (.ci/run). Results are recorded in docs/connection.md ("Supported versions").
"""

import nox

RAY_VERSIONS = ["2.59.0", "2.60.0"]
# The oldest Typer the range allows, with the oldest Ray; the newest with the newest.
TYPER_FOR = {"2.59.0": "typer==0.27.3", "2.60.0": "typer==0.29.2"}
SMOKE = ["tests/integration/test_stock_cluster.py", "tests/integration/test_token_auth.py", "tests/integration/test_version_skew.py",
         "tests/integration/test_cli_bootstrap.py", "tests/integration/test_connection.py"]

nox.options.default_venv_backend = "venv"


@nox.session
@nox.parametrize("ray", RAY_VERSIONS)
def smoke(session: nox.Session, ray: str) -> None:
    session.install("-e", ".[test]", f"ray[default]=={ray}", TYPER_FOR[ray])
    session.run("pytest", "-q", "-p", "no:cacheprovider", *SMOKE, *session.posargs)
