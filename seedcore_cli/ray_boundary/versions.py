"""Whether this process's Ray and Python can talk to a cluster's: the one rule, as Ray applies it.

connect()'s preflight refuses an incompatible cluster with it before ray.init, and diagnose's
versions check judges with it, so the two cannot disagree. Ray's rule (its check_version_info,
and the Ray Client server's): the Ray versions are equal; a driver's Python equals the cluster's
to the patch release, or to the minor one when
RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL=minor (Ray then logs a warning for the patch); Ray Client
compares Python major.minor only (and warns for the patch). A version the cluster did not tell
('' or '?') is not compared. Nothing here imports ray.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass

from seedcore_cli.settings import ConnectionMode

MATCH_LEVEL_ENV = "RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL"
PATCH, MINOR = "patch", "minor"


@dataclass(frozen=True)
class Compatibility:
    """The verdict: `problems` make Ray refuse the connection; `warning` is what Ray only logs."""

    problems: tuple[str, ...]
    warning: str = ""

    @property
    def compatible(self) -> bool:
        return not self.problems


def python_match_level(environ: Mapping[str, str]) -> str:
    """PATCH or MINOR: RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL as this process's Ray reads it."""
    return MINOR if environ.get(MATCH_LEVEL_ENV, PATCH).strip().lower() == MINOR else PATCH


def local_versions() -> tuple[str, str]:
    """(Ray, Python) versions of this process, without importing ray ('not installed' for Ray)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ray"), platform.python_version()
    except PackageNotFoundError:
        return "not installed", platform.python_version()


def compatibility(mode: ConnectionMode | str, here: tuple[str, str], cluster: tuple[str, str],
                  match_level: str = PATCH) -> Compatibility:
    """Can a `mode` connection from `here` (Ray, Python) reach a cluster running `cluster`?"""
    here_ray, here_python = here
    cluster_ray, cluster_python = cluster
    problems = []
    if here_ray != cluster_ray:
        problems.append("Ray versions differ")
    if cluster_python in ("", "?"):
        return Compatibility(tuple(problems))
    client = mode == ConnectionMode.CLIENT
    minor_only = client or match_level == MINOR
    same_minor = here_python.split(".")[:2] == cluster_python.split(".")[:2]
    if client and not same_minor:
        problems.append("Python minor versions differ (Ray Client compares major.minor)")
    elif not client and minor_only and not same_minor:
        problems.append(f"Python minor versions differ ({MATCH_LEVEL_ENV}=minor compares major.minor)")
    elif not client and not minor_only and here_python != cluster_python:
        problems.append("Python versions differ (a driver needs the exact same Python)")
    warning = ""
    if not problems and here_python != cluster_python:
        allowed = "Ray Client allows it" if client else f"{MATCH_LEVEL_ENV}=minor allows it"
        warning = f"Python patch versions differ ({allowed}; Ray logs a warning)"
    return Compatibility(tuple(problems), warning)
