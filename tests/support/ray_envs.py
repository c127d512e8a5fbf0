"""Virtual environments that hold Ray and nothing of seedcore: the clusters operators really run.

A KubeRay cluster on the stock `rayproject/ray` image has Ray and no seedcore, so the test
suite's heads run from environments like that: `ray[default]` of one version, built once per
machine with pip (its cache makes a rebuild cheap) and reused by later sessions. An environment
may be built on another interpreter (Debian's /usr/bin/python3.11 is one Python patch release
away from the one running the tests): the head for the Python-skew tests.

    python tests/support/ray_envs.py 2.60.0 2.59.0     # build them ahead of the tests (.ci/run does)
    python tests/support/ray_envs.py --python /usr/bin/python3.11 2.60.0

`ray_env(version, python)` returns the environment's folder, building it first when needed; a
file lock lets concurrent test sessions share one build.
"""

from __future__ import annotations

import fcntl
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("SEEDCORE_TEST_RAY_ENVS") or Path(__file__).resolve().parents[2] / ".ray-envs")
# Debian's own Python: on this image one patch release away from the interpreter running the tests.
DISTRIBUTION_PYTHON = "/usr/bin/python3.11"


def installed_ray_version() -> str:
    """The Ray version of the environment running the tests (without importing ray)."""
    from importlib.metadata import version

    return version("ray")


def python_version_of(python: str | None) -> str:
    """The version of interpreter `python` (None: the base interpreter of this process)."""
    if python is None:
        return platform.python_version()
    found = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                           capture_output=True, text=True, check=True)
    return found.stdout.strip()


def env_dir(version: str, python: str | None = None) -> Path:
    return ROOT / f"ray-{version}-py{python_version_of(python)}"


def ray_env(version: str, python: str | None = None) -> Path:
    """A venv with only `ray[default]==version`, on interpreter `python` (default: the one running
    the tests); built if missing."""
    target = env_dir(version, python)
    ready = target / ".ready"
    if ready.exists():
        return target
    ROOT.mkdir(parents=True, exist_ok=True)
    with open(ROOT / f".lock-{target.name}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            _build(target, version, python)
            ready.write_text(version)
    return target


def _build(target: Path, version: str, python: str | None) -> None:
    # The base interpreter, not this venv's: the new env must not see seedcore's site-packages.
    base = python or getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(target)], check=True)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"ray[default]=={version}"], check=True)


def ray_bin(version: str, python: str | None = None) -> str:
    return str(ray_env(version, python) / "bin" / "ray")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    interpreter = None
    if arguments[:1] == ["--python"]:
        interpreter, arguments = arguments[1], arguments[2:]
    for requested in arguments or [installed_ray_version()]:
        print(ray_env(requested, interpreter))
