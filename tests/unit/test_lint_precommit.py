"""The `seedcore-lint` pre-commit hook (.pre-commit-hooks.yaml), run by the real pre-commit
against a throwaway git repository, as a user's .pre-commit-config.yaml names it. No network:
the hook's repository is a local git repository holding this checkout's package, and pre-commit
installs it into its own environment without dependencies (they are lent from this
interpreter's site-packages when the hook runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pre_commit  # the test extra has it: a missing pre-commit fails here, it never skips
import yaml
from lint_helpers import ROOT

GIT = ["git", "-c", "user.email=lint@test", "-c", "user.name=lint", "-c", "init.defaultBranch=main"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_the_manifest_declares_the_hook():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "seedcore-lint")
    assert hook["entry"] == "seedcore lint" and hook["language"] == "python"
    assert "python" in hook["types_or"] and hook["pass_filenames"] is False


def test_pre_commit_runs_the_hook(tmp_path):
    hook_repo = tmp_path / "hook"
    hook_repo.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, hook_repo / name)
    shutil.copytree(ROOT / "seedcore_cli", hook_repo / "seedcore_cli", ignore=shutil.ignore_patterns("__pycache__"))
    git(hook_repo, "init", "-q")
    git(hook_repo, "add", "-A")
    git(hook_repo, "commit", "-qm", "hook")
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "a.py").write_text("import ray\n\ndef a():\n    ray.init()\n")
    (project / "pkg" / "b.py").write_text("import ray\n\ndef b():\n    ray.init()\n")
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {git(hook_repo, 'rev-parse', 'HEAD')}\n"
        "    hooks:\n      - id: seedcore-lint\n")
    git(project, "init", "-q")
    git(project, "add", "-A")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(PRE_COMMIT_HOME=str(tmp_path / "cache"), PIP_NO_DEPS="1", PIP_NO_INDEX="1",
               PIP_NO_BUILD_ISOLATION="0",  # pip's inverted spelling: build with the env's own setuptools
               VIRTUALENV_NO_PERIODIC_UPDATE="1")
    command = [sys.executable, "-m", pre_commit.__name__]
    install = subprocess.run([*command, "install-hooks"], cwd=project, env=env, capture_output=True, text=True,
                             timeout=600, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]  # the hook's dependencies, not its seedcore_cli

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([*command, "run", "--all-files"], cwd=project, env=env, capture_output=True,
                              text=True, timeout=300, check=False)

    failed = run()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "seedcore lint" in failed.stdout and "Failed" in failed.stdout
    assert "pkg/a.py:4:5: SC001" in failed.stdout and "pkg/b.py:4:5: SC001" in failed.stdout
    (project / "pkg" / "b.py").write_text("def b():\n    pass\n")
    git(project, "add", "-A")
    passed = run()
    assert passed.returncode == 0 and "Passed" in passed.stdout, passed.stdout + passed.stderr
