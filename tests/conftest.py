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

import support.environment  # noqa: F401 - first: the environment Ray reads when it is imported

pytest_plugins = ["support.fixtures", "support.organism", "support.busy_machine"]
