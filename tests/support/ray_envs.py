"""Virtual environments that hold Ray and nothing of seedcore: the clusters operators really run.

A KubeRay cluster on the stock `rayproject/ray` image has Ray and no seedcore, so the test
suite's heads run from environments like that: `ray[default]` of one version, built once per
machine with pip (its cache makes a rebuild cheap) and reused by later sessions.

    python tests/support/ray_envs.py 2.60.0 2.59.0     # build them ahead of the tests (.ci/run does)

`ray_env(version)` returns the environment's folder, building it first when needed; a file lock
lets concurrent test sessions share one build.
"""

from __future__ import annotations

import fcntl
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("SEEDCORE_TEST_RAY_ENVS") or Path(__file__).resolve().parents[2] / ".ray-envs")


def installed_ray_version() -> str:
    """The Ray version of the environment running the tests (without importing ray)."""
    from importlib.metadata import version

    return version("ray")


def env_dir(version: str) -> Path:
    return ROOT / f"ray-{version}-py{platform.python_version()}"


def ray_env(version: str) -> Path:
    """A venv with only `ray[default]==version` (same Python as this one); built if missing."""
    target = env_dir(version)
    ready = target / ".ready"
    if ready.exists():
        return target
    ROOT.mkdir(parents=True, exist_ok=True)
    with open(ROOT / f".lock-{version}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            _build(target, version)
            ready.write_text(version)
    return target


def _build(target: Path, version: str) -> None:
    # The base interpreter, not this venv's: the new env must not see seedcore's site-packages.
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(target)], check=True)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"ray[default]=={version}"], check=True)


def ray_bin(version: str) -> str:
    return str(ray_env(version) / "bin" / "ray")


if __name__ == "__main__":
    for requested in sys.argv[1:] or [installed_ray_version()]:
        print(ray_env(requested))
