"""Run a blocking call with a deadline on a daemon thread: a hung Ray call cannot hold diagnose
(or the interpreter's exit) beyond the bound."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seedcore_cli.ray_boundary.deadline import Worker


class TimedOut(Exception):
    """The call did not finish within its bound (it keeps running on its daemon thread)."""


def call(func: Callable[..., Any], *args: Any, timeout: float) -> Any:
    worker = Worker(lambda: func(*args), f"diagnose-{getattr(func, '__name__', 'call')}")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimedOut(f"no answer within {timeout:g} s")
    return worker.outcome()
