"""2. local install: Ray and Python versions, the ray[default] and Ray Client extras."""

from __future__ import annotations

import importlib.metadata as metadata
import platform
import sys

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, fail, ok, warn
from seedcore_cli.diagnose.registry import check

ID = "local_install"


def missing_for_extra(extra: str, dist: str = "ray") -> list[str]:
    """Requirements of `dist[extra]` that are not installed (without importing them)."""
    from packaging.requirements import Requirement  # a dependency of ray

    missing = []
    for text in metadata.requires(dist) or []:
        req = Requirement(text)
        if req.marker is None or not req.marker.evaluate({"extra": extra}):
            continue
        if req.marker.evaluate({"extra": ""}):
            continue  # a base requirement, not the extra's
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(req.name)
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            missing.append(f"{req.name} (have {installed}, need {req.specifier})")
    return sorted(set(missing))


@check(ID, "Local install")
def local_install(ctx: Context) -> CheckResult:
    python = platform.python_version()
    try:
        ray_version = metadata.version("ray")
    except metadata.PackageNotFoundError:
        return fail(ID, f"Ray is not installed for Python {python} ({sys.executable})",
                    "pip install 'ray[default]' (the cluster's exact version)")
    details = [("python", f"{python} ({sys.executable})"), ("ray", ray_version)]
    no_default = missing_for_extra("default")
    no_client = missing_for_extra("client")
    details += [("ray[default]", "complete" if not no_default else "missing " + ", ".join(no_default)),
                ("ray[client]", "complete" if not no_client else "missing " + ", ".join(no_client))]
    seen = f"Ray {ray_version}, Python {python}"
    problems = []
    if no_default:
        problems.append(f"ray[default] incomplete (missing {', '.join(no_default)}): no dashboard or State API")
    if no_client:
        problems.append(f"Ray Client extra incomplete (missing {', '.join(no_client)})")
    target = ctx.settings.target.kind if ctx.settings else ""
    if problems:
        hint = f"pip install 'ray[default,client]=={ray_version}'"
        if no_client and target == "client":
            return fail(ID, f"{seen}; " + "; ".join(problems), hint, details=tuple(details))
        return warn(ID, f"{seen}; " + "; ".join(problems), hint, details=tuple(details))
    return ok(ID, f"{seen}; ray[default] and Ray Client extras installed", details=tuple(details))
