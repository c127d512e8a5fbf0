"""Hard deadlines around Ray calls that can block for ever, with a verdict that names the culprit.

Ray has no deadline of its own in several places: `ray.init` through Ray Client waits for ever on
a frozen GCS, a driver's `ray.init` waits ~30 s on a frozen raylet, and `ray.get_actor`,
`ray.util.list_named_actors` or `ray.kill` block as long as the GCS does not answer. seedcore
still gives its verdict on time:

- `connect_within(connect, budget_s)`: connect() runs on a daemon thread; if it has not finished
  CONNECT_VERDICT_S after it started (not counting a local cluster start), the cluster is probed
  (liveness.find_culprit): a silent or gone component ends the wait at once with CannotConnect
  naming it. A cluster whose every part answers is slow, not stuck: the wait goes on, re-probed,
  until `budget_s` (the connect timeout), with one progress note.
- `Watchdog(seconds, target, on_expiry)`: a command's work runs on the main thread; if it is still
  running `seconds + WORK_GRACE_S` after it began, the watchdog (a daemon thread) names the
  culprit and hands the error to `on_expiry`, which must end the process (the CLI prints the line
  and leaves with os._exit): a Ray call blocked in C++ cannot be interrupted any other way.

When a wait is abandoned, the blocked call stays on its thread: `abandoned()` tells the CLI to
leave with os._exit (Ray's exit handlers would block on the same dead component).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from seedcore_cli.errors import CannotConnect, SeedcoreError
from seedcore_cli.ray_boundary import liveness

CONNECT_VERDICT_S = 5.0  # a verdict on connecting within this long (when a component is silent)
WORK_GRACE_S = 5.0  # the work may overrun its timeout by this much before the watchdog acts
PROBE_BUDGET_S = 2.5  # what the liveness probes may take (each probe 1 s; raylets in parallel)
RECHECK_S = 3.0

T = TypeVar("T")
OnTarget = Callable[[liveness.Target, bool], None]

_abandoned: list[threading.Thread] = []


def abandoned() -> bool:
    """Whether a Ray call left blocked on a thread is still blocked there (Ray's state is not to
    be asked meanwhile, and the process must leave with os._exit)."""
    return any(thread.is_alive() for thread in _abandoned)


class Worker(threading.Thread):
    """Runs `func` on a daemon thread; `outcome()` is its result or raises its error. A call that
    outlives its caller's patience stays on the thread (it cannot be interrupted)."""

    def __init__(self, func: Callable[[], Any], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._func = func
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self._func()
        except BaseException as err:
            self.error = err

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def connect_within(connect: Callable[[OnTarget], T], budget_s: float,
                   progress: Callable[[str], None] | None = None,
                   on_abandon: Callable[[], None] | None = None) -> T:
    """Run `connect(on_target)` (it calls on_target(target, started_local) once it knows where it
    connects, just before ray.init) and return its result, or raise CannotConnect on time."""
    started = time.monotonic()
    known: dict[str, Any] = {}

    def on_target(target: liveness.Target, started_local: bool) -> None:
        known["target"] = target
        known["since"] = time.monotonic() if started_local else started

    worker = Worker(lambda: connect(on_target), "seedcore-connect")
    worker.start()
    try:
        return _wait(worker, known, budget_s, progress)
    except BaseException:  # our verdict, or Ctrl-C: ray.init may still be blocked on the worker
        if worker.is_alive():
            _abandon(worker, on_abandon)
        raise


def _wait(worker: Worker, known: dict[str, Any], budget_s: float,
          progress: Callable[[str], None] | None) -> Any:
    noted = False
    while True:
        worker.join(0.1)
        if not worker.is_alive():
            return worker.outcome()
        target = known.get("target")
        now = time.monotonic()
        if target is None or now < known["since"] + CONNECT_VERDICT_S - PROBE_BUDGET_S:
            continue
        culprit = liveness.find_culprit(target)
        if not worker.is_alive():
            return worker.outcome()
        waited = time.monotonic() - known["since"]
        if culprit is not None:
            raise CannotConnect(f"no connection to {_where(target)} after {waited:.0f} s: {culprit.describe()}",
                                _FIX)
        if waited >= max(budget_s, CONNECT_VERDICT_S):
            raise CannotConnect(f"no connection to {_where(target)} within {budget_s:g} s, although the "
                                f"{'Ray Client server and the GCS' if target.mode == liveness.MODE_CLIENT else 'GCS and raylets'}"
                                " answer: the head is overloaded, or a raylet seedcore cannot see is stuck",
                                "try again later, or raise the connect timeout (SEEDCORE_CONNECT_TIMEOUT)")
        if progress is not None and not noted and waited >= CONNECT_VERDICT_S:
            noted = True
            progress(f"connecting to {_where(target)} is slow; every part of the cluster seedcore can see "
                     f"answers, so waiting up to {budget_s:g} s (the connect timeout)")
        worker.join(min(RECHECK_S, max(0.1, known["since"] + budget_s - time.monotonic())))


_FIX = "resume or restart that process (or the head), then try again; `seedcore diagnose` shows the rest"


def _where(target: liveness.Target) -> str:
    return f"{'ray://' if target.mode == liveness.MODE_CLIENT else ''}{target.host}:{target.port}"


def _abandon(worker: threading.Thread, on_abandon: Callable[[], None] | None) -> None:
    if worker not in _abandoned:
        _abandoned.append(worker)
        if on_abandon is not None:
            on_abandon()


class Watchdog:
    """Ends the process with a verdict if the work outlives `seconds` + WORK_GRACE_S.

    `with Watchdog(seconds, target, on_expiry):` around the work; `pause()` while waiting for a
    person (a confirmation prompt is not Ray's to time) and `rearm()` after; `rearm()` for each
    round of a loop.
    """

    def __init__(self, seconds: float, target: liveness.Target,
                 on_expiry: Callable[[SeedcoreError], None]) -> None:
        self.seconds = seconds
        self.target = target
        self.on_expiry = on_expiry
        self._lock = threading.Lock()
        self._expires: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="seedcore-watchdog", daemon=True)

    def __enter__(self) -> Watchdog:
        self.rearm()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()

    def rearm(self) -> None:
        with self._lock:
            self._expires = time.monotonic() + self.seconds + WORK_GRACE_S - PROBE_BUDGET_S

    def pause(self) -> None:
        with self._lock:
            self._expires = None

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            with self._lock:
                expired = self._expires is not None and time.monotonic() >= self._expires
            if expired:
                self._expire()

    def _expire(self) -> None:
        try:
            cause = self._cause()
        except Exception as err:
            cause = f"the probes failed ({type(err).__name__})"
        if self._stop.is_set():
            return  # the work finished while we probed
        self.on_expiry(CannotConnect(
            f"Ray did not answer within {self.seconds:g} s (+{WORK_GRACE_S:g} s grace); the connection to "
            f"{_where(self.target)} is lost or stuck: {cause}", _FIX))

    def _cause(self) -> str:
        # A head going down stops its processes one by one: ask again until the last moment
        # before saying that everything answers.
        last_call = time.monotonic() + PROBE_BUDGET_S - liveness.PROBE_TIMEOUT_S - 0.3
        culprit = liveness.find_culprit(self.target)
        while culprit is None and time.monotonic() < last_call and not self._stop.wait(0.3):
            culprit = liveness.find_culprit(self.target)
        return culprit.describe() if culprit else (
            "every part of the cluster seedcore can see answers, so it is overloaded or a raylet it "
            "cannot see is stuck")
