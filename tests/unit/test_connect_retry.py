"""connect()'s Ray Client retry (_init) against a fake `ray` whose init fails as Ray does: which
failures are retried, the budget, the progress note, the final message, one client at a time."""

from __future__ import annotations

import pytest

from seedcore_cli import settings
from seedcore_cli.errors import CannotConnect, SettingsError
from seedcore_cli.ray_boundary import connection
from seedcore_cli.settings import ConnectionMode

SERVER_START = ConnectionAbortedError(
    "Initialization failure from server:\nTraceback (most recent call last):\n  File \"proxier.py\", line 772, "
    "in Datapath\n    raise RuntimeError(\nRuntimeError: Starting Ray client server failed. See "
    "ray_client_server_23001.err for detailed logs.\n")
ZOMBIE = ConnectionAbortedError(
    "Initialization failure from server:\nTraceback (most recent call last):\n  File \"proxier.py\", line 390\n"
    "psutil.ZombieProcess: PID still exists but it's a zombie (pid=8756)\n")
OLD_CLIENT = ConnectionAbortedError(
    "Initialization failure from server:\nTraceback (most recent call last):\n  File \"server.py\", line 1\n"
    "AttributeError: 'JobConfig' object has no attribute '_disable_job_level_lineage_reconstruction'\n")


class FakeRay:
    """ray.init raising the given errors in turn, then succeeding; counts shutdowns between."""

    class job_config:
        JobConfig = dict

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.inits = 0
        self.shutdowns = 0
        self.live = 0

    def init(self, **_):
        assert self.live == 0, "a second client while one is live"
        self.inits += 1
        if self.errors:
            self.live += 1  # Ray leaves a half-made client behind on failure
            raise self.errors.pop(0)
        self.live += 1
        return "context"

    def shutdown(self):
        self.shutdowns += 1
        self.live = 0


def client_settings():
    return settings.resolve(address="ray://127.0.0.1:10001", namespace="ns", environ={})


@pytest.mark.parametrize("error", [SERVER_START, ZOMBIE, RuntimeError("Proxy failed to Connect to backend! ...")])
def test_transient_server_start_failures_are_retried_until_it_connects(error):
    fake, notes, pauses = FakeRay(error, error), [], []
    context = connection._init(fake, client_settings(), "ray://127.0.0.1:10001", ConnectionMode.CLIENT, 60.0,
                               notes.append, sleep=pauses.append)
    assert context == "context" and fake.inits == 3 and fake.shutdowns == 2
    assert len(notes) == 2 and all("could not start a server for this client" in n for n in notes)
    assert pauses[0] < pauses[1] or pauses[1] >= 0.5  # backoff (with jitter)


def test_the_budget_ends_in_one_line_naming_the_overloaded_proxy():
    fake = FakeRay(*[SERVER_START] * 50)
    with pytest.raises(CannotConnect) as raised:
        connection._init(fake, client_settings(), "ray://127.0.0.1:10001", ConnectionMode.CLIENT, 0.0,
                         None, sleep=lambda s: None)
    assert fake.inits == 1 and fake.live == 0  # the failed client was shut down before giving up
    line = raised.value.one_line()
    assert "overloaded with Ray Client sessions" in line and "SEEDCORE_CONNECT_TIMEOUT" in line
    assert "\n" not in line and "Traceback" not in line


def test_a_session_the_server_cannot_set_up_is_not_retried():
    fake = FakeRay(OLD_CLIENT)
    with pytest.raises(CannotConnect) as raised:
        connection._init(fake, client_settings(), "ray://127.0.0.1:10001", ConnectionMode.CLIENT, 60.0,
                         None, sleep=lambda s: pytest.fail("retried"))
    assert fake.inits == 1
    assert "could not set up this session: AttributeError" in raised.value.message
    assert "another Ray version" in raised.value.hint


def test_drivers_are_never_retried():
    fake = FakeRay(SERVER_START)
    with pytest.raises(CannotConnect):
        connection._init(fake, settings.resolve(address="127.0.0.1:6379", namespace="ns", environ={}),
                         "127.0.0.1:6379", ConnectionMode.DRIVER, 60.0, None, sleep=lambda s: pytest.fail("retried"))
    assert fake.inits == 1


@pytest.mark.parametrize("raw,expected", [("", 60.0), ("0", 0.0), ("12.5", 12.5)])
def test_connect_timeout_from_the_environment(raw, expected):
    assert connection.connect_timeout_from_env({"SEEDCORE_CONNECT_TIMEOUT": raw}) == expected


@pytest.mark.parametrize("raw", ["soon", "-1", "nan", "99999"])
def test_bad_connect_timeout_is_bad_input(raw):
    with pytest.raises(SettingsError, match="SEEDCORE_CONNECT_TIMEOUT"):
        connection.connect_timeout_from_env({"SEEDCORE_CONNECT_TIMEOUT": raw})
