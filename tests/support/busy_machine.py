"""Run the suite on a busy machine: `SEEDCORE_TEST_CPU_HOGS=2 pytest` starts that many processes
that spin on a core (`python -c "while True: pass"`) for the whole session, beside the tests.

Fresh-clone runs with other work on the machine once lost tests that passed alone (a connect cap
a slow-but-healthy cluster exceeded; Ctrl-C under --watch), so deadlines are checked this way
too. The hogs run in their own process session and are stopped by their pids at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HOGS_ENV = "SEEDCORE_TEST_CPU_HOGS"


def hog_count(environ: dict[str, str] | os._Environ = os.environ) -> int:
    raw = environ.get(HOGS_ENV, "").strip() or "0"
    try:
        count = int(raw)
    except ValueError:
        raise pytest.UsageError(f"{HOGS_ENV}={raw!r}: expected a whole number of busy processes") from None
    if not 0 <= count <= 16:
        raise pytest.UsageError(f"{HOGS_ENV}={count}: expected 0 to 16 busy processes")
    return count


@pytest.fixture(scope="session", autouse=True)
def cpu_hogs():
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(hog_count())]
    yield len(hogs)
    for hog in hogs:
        hog.kill()
        hog.wait()


def pytest_report_header(config) -> str | None:
    count = hog_count()
    return f"busy machine: {count} CPU hog process(es) beside the tests ({HOGS_ENV})" if count else None
