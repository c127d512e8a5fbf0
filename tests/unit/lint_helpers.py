"""Helpers for the lint tests (no Ray head): where the fixtures are, and the real `seedcore lint`
run in a child process, as CI and pre-commit run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "lint"
PACKAGE = ROOT / "seedcore_cli"


def run_seedcore(args: list[str], env: dict[str, str] | None = None, cwd: str | Path | None = None,
                 timeout: float = 120, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    """`python -m seedcore_cli ARGS` with this checkout first on sys.path (after `prefix`, a
    command that runs it, if given)."""
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    full_env = {**os.environ, "PYTHONPATH": python_path, **(env or {})}
    return subprocess.run([*(prefix or []), sys.executable, "-m", "seedcore_cli", *args], capture_output=True, text=True, check=False,
                          env=full_env, cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)
