"""Stopping a `ray start --block` process the tests launched (in its own process session): the
tests' heads (conftest) and the multi-node cluster's nodes (also used by bench/, without pytest)."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_ray_start(process: subprocess.Popen) -> None:
    """SIGTERM the one `ray start --block` process we launched; it stops its own children."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # our own session only
            process.wait()
