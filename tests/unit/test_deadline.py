"""deadline and liveness without Ray: a blocked connect() or piece of work against a port that is
closed (gone) or that accepts connections and never speaks (a SIGSTOPped process looks exactly
like that to a client: the kernel completes the TCP handshake for it)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest
from support.organism import wait_until

from seedcore_cli.errors import CannotConnect
from seedcore_cli.ray_boundary import deadline, liveness, probe


@pytest.fixture
def silent_port():
    """A listening socket nobody reads: connections complete, no byte ever comes back."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_liveness_tells_a_silent_process_from_a_gone_one(silent_port, closed_port):
    assert probe.answer_of("127.0.0.1", silent_port, probe.GCS_ALIVE_METHOD, 0.5) == probe.SILENT
    assert probe.answer_of("127.0.0.1", closed_port, probe.GCS_ALIVE_METHOD, 0.5) == probe.GONE
    silent = liveness.find_culprit(liveness.Target("driver", "127.0.0.1", silent_port), 0.5)
    assert (silent.component, silent.answer) == ("GCS", probe.SILENT)
    assert silent.describe() == f"the GCS at 127.0.0.1:{silent_port} does not answer (frozen or overloaded)"
    gone = liveness.find_culprit(liveness.Target("client", "127.0.0.1", closed_port), 0.5)
    assert gone.describe() == f"the Ray Client server at ray://127.0.0.1:{closed_port} is gone (nothing listens)"


def test_a_blocked_connect_ends_with_a_verdict_naming_the_silent_component(silent_port):
    release = threading.Event()

    def connect(on_target):
        on_target(liveness.Target("driver", "127.0.0.1", silent_port), False)
        release.wait(60)  # ray.init blocked on a frozen GCS

    started = time.monotonic()
    try:
        with pytest.raises(CannotConnect, match=f"the GCS at 127.0.0.1:{silent_port} does not answer"):
            deadline.connect_within(connect, budget_s=60)
        assert deadline.abandoned()  # while the connect is still blocked
    finally:
        release.set()
    assert time.monotonic() - started < deadline.CONNECT_VERDICT_S + 1
    assert wait_until(lambda: not deadline.abandoned(), 5)  # it ended: Ray may be asked again


def test_a_connect_that_finishes_or_fails_on_its_own_is_returned_as_it_is():
    assert deadline.connect_within(lambda on_target: "connection", budget_s=5) == "connection"
    with pytest.raises(CannotConnect, match="refused"):
        deadline.connect_within(lambda on_target: (_ for _ in ()).throw(CannotConnect("refused")), budget_s=5)


WATCHED = """
import os, sys, time
from seedcore_cli.ray_boundary import deadline, liveness
def report(err):
    print("Error: " + err.one_line(), file=sys.stderr, flush=True)
    os._exit(err.exit_code)
with deadline.Watchdog(float(sys.argv[2]), liveness.Target("driver", "127.0.0.1", int(sys.argv[1])), report):
    time.sleep(float(sys.argv[3]))  # the work (a Ray call blocked in C++ would look the same)
print("finished")
"""


def test_the_watchdog_ends_overrunning_work_with_exit_3_and_lets_timely_work_finish(silent_port):
    started = time.monotonic()
    late = subprocess.run([sys.executable, "-c", WATCHED, str(silent_port), "0.5", "60"],
                          capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert late.returncode == 3 and late.stdout == ""
    assert "Ray did not answer within 0.5 s" in late.stderr and "does not answer (frozen" in late.stderr
    assert took < 0.5 + deadline.WORK_GRACE_S + 2  # + the interpreter's start
    timely = subprocess.run([sys.executable, "-c", WATCHED, str(silent_port), "5", "0.2"],
                            capture_output=True, text=True, timeout=60)
    assert (timely.returncode, timely.stdout.strip(), timely.stderr) == (0, "finished", "")
