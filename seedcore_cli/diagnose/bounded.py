"""Run a blocking call with a deadline on a daemon thread: a hung Ray call cannot hold diagnose
(or the interpreter's exit) beyond the bound."""

from __future__ import annotations

import threading
from typing import Any, Callable


class TimedOut(Exception):
    """The call did not finish within its bound (it keeps running on its daemon thread)."""


def call(func: Callable[..., Any], *args: Any, timeout: float) -> Any:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func(*args)
        except BaseException as err:  # handed to the caller
            box["error"] = err

    thread = threading.Thread(target=target, name=f"diagnose-{getattr(func, '__name__', 'call')}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimedOut(f"no answer within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")
