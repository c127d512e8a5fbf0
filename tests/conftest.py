"""Test harness: one real loopback Ray head for the session, started and stopped by its pid.

The head is the shape operators deploy: it runs from a virtual environment that holds Ray and
nothing of seedcore (`ray_envs`), and the tests run from a directory outside the checkout,
because Ray puts the driver's working directory on the workers' sys.path. Code that only works
when the cluster can import seedcore_cli fails here, as it would on KubeRay.

Every test talks to 127.0.0.1 only. Tests that need Ray take the `ray_cluster` fixture; each
test gets its own namespace. seedcore's connection is dropped after every test so the next one
connects afresh (connect() refuses a second target while connected, by design).
"""

from __future__ import annotations

import os

import support.environment  # first: the environment Ray reads when it is imported

pytest_plugins = ["support.fixtures", "support.organism", "support.busy_machine"]

# lint's fixture corpus is code written wrong on purpose (and imports modules that do not exist):
# it is read by the lint tests, never collected.
collect_ignore = ["fixtures"]


def pytest_sessionstart(session: object) -> None:
    """Run the tests from outside the checkout (see support.environment), once paths are resolved."""
    os.chdir(support.environment.TEST_CWD)
