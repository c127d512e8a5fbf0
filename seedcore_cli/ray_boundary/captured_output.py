"""What Ray prints while connect() runs (its C++ core logs to file descriptor 2, Python warnings):
kept off the user's stderr and shown by the CLI under -v. `captured()` around ray.init; `text()`
what it said; `to_user(write)` a note for the user meanwhile (from another thread);
`release_stderr()` when a blocked ray.init is abandoned and the verdict must be seen."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable

_output: list[str] = []


def clear() -> None:
    _output.clear()


def text() -> str:
    """What Ray printed while connect() ran (C++ log lines, Python warnings): kept off the
    user's stderr, shown by the CLI under -v."""
    return "".join(_output)


@contextlib.contextmanager
def captured():
    """Send file descriptor 2 (Ray's C++ core logs there) and Python warnings to a buffer."""
    import tempfile
    import warnings

    sys.stderr.flush()
    saved = os.dup(2)
    _stderr_saved.append(saved)
    try:
        with tempfile.TemporaryFile(mode="w+b") as sink, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                with _capture_lock:
                    sys.stderr.flush()
                    os.dup2(saved, 2)
                sink.seek(0)
                _output.append(sink.read().decode(errors="replace"))
                _output.extend(f"{w.category.__name__}: {w.message}\n" for w in caught)
    finally:
        with _capture_lock:
            _stderr_saved.remove(saved)
            os.close(saved)


_stderr_saved: list[int] = []  # the real stderr while Ray's output is captured
_capture_lock = threading.Lock()


def to_user(write: Callable[[], None]) -> None:
    """Run `write` (a note for the user) with stderr pointing at the user's, even while ray.init
    runs with its output captured on another thread (deadline.connect_within's notes)."""
    with _capture_lock:
        if not _stderr_saved:
            write()
            return
        sys.stderr.flush()
        captured = os.dup(2)
        try:
            os.dup2(_stderr_saved[0], 2)
            write()
            sys.stderr.flush()
        finally:
            os.dup2(captured, 2)
            os.close(captured)


def release_stderr() -> None:
    """Give file descriptor 2 back to the user now: connect() was abandoned on a thread that is
    still inside ray.init (deadline.connect_within), and the verdict must be seen."""
    with _capture_lock:
        if _stderr_saved:
            sys.stderr.flush()
            os.dup2(_stderr_saved[0], 2)
