"""The test session's process environment, set before anything imports ray.

Imported first by tests/conftest.py. Every Ray address stays on loopback, the user's own Ray and
seedcore settings never leak into a test, seedcore's local-cluster state lives in a temporary
folder, and the tests run from a directory outside the checkout (Ray puts a driver's working
directory on the workers' sys.path, which would hide a cluster that cannot import seedcore).
"""

from __future__ import annotations

import os
import tempfile

# Before anything imports ray: keep every Ray address on loopback. Ray reads this when it is
# imported; without it, 127.0.0.1 is rewritten to the network IP and a driver hangs.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
# The user's own settings must not leak into tests.
for _key in ("RAY_ADDRESS", "SEEDCORE_NS", "RAY_NAMESPACE", "RAY_HOST", "RAY_PORT",
             "SEEDCORE_ORGANISM_CONFIG", "SEEDCORE_DEBUG", "RAY_API_SERVER_ADDRESS"):
    os.environ.pop(_key, None)
# seedcore's local-cluster state for this test session only, never ~/.seedcore.
os.environ["SEEDCORE_STATE_DIR"] = tempfile.mkdtemp(prefix="seedcore-test-state-")
# Token auth and TLS only where a test asks for them, never from the user's shell.
for _key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_USE_TLS"):
    os.environ.pop(_key, None)
# Outside the checkout: a driver's working directory ends up on the workers' sys.path. conftest
# enters it when the session starts, not here: pytest resolves `testpaths` against the working
# directory after importing conftest, so changing it at import time makes a bare `pytest` search
# the wrong tree.
TEST_CWD = tempfile.mkdtemp(prefix="seedcore-test-cwd-")
