"""completions/ holds the scripts the app generates; a stale one fails here."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_fresh(shell):
    fresh = subprocess.run([sys.executable, "-m", "seedcore_cli"], capture_output=True, text=True,
                           env={**os.environ, "_SEEDCORE_COMPLETE": f"source_{shell}"}, timeout=60)
    assert fresh.returncode == 0
    assert fresh.stdout.strip(), "no script generated"
    committed = (COMPLETIONS / f"seedcore.{shell}").read_text()
    assert committed == fresh.stdout, f"completions/seedcore.{shell} is stale: run completions/regenerate.sh"


def test_completion_lists_subcommands():
    env = {**os.environ, "_SEEDCORE_COMPLETE": "complete_bash", "COMP_WORDS": "seedcore cluster s", "COMP_CWORD": "2"}
    result = subprocess.run([sys.executable, "-m", "seedcore_cli"], capture_output=True, text=True, env=env, timeout=60)
    assert set(result.stdout.split()) >= {"start", "stop", "status"}
