"""6. versions: local against cluster Ray and Python. Drivers need the exact same Ray and Python;
Ray Client the same Ray and the same Python minor. Ray's own mismatch message, explained."""

from __future__ import annotations

import importlib.metadata as metadata
import platform
import re

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import FAIL, OK, WARN, CheckResult, skip
from seedcore_cli.diagnose.registry import check
from seedcore_cli.errors import VersionMismatch
from seedcore_cli.ray_boundary import connection as connection_mod

ID = "versions"
_MISMATCH = re.compile(
    r"cluster was started with:\s*Ray:\s*(?P<cray>\S+)\s*Python:\s*(?P<cpy>\S+)\s*"
    r"This process on (?P<where>.+?) was started with:\s*Ray:\s*(?P<lray>\S+)\s*Python:\s*(?P<lpy>\S+)",
    re.S,
)


def parse_mismatch(text: str) -> dict[str, str] | None:
    """The versions in Ray's 'Version mismatch: The cluster was started with: ...' message."""
    match = _MISMATCH.search(text or "")
    return match.groupdict() if match else None


def compare(mode: str, local_ray: str, local_py: str, cluster_ray: str, cluster_py: str) -> tuple[str, str, str]:
    """(status, seen, hint) for a driver ('driver'/'local') or Ray Client ('client') connection."""
    seen = f"local Ray {local_ray} / Python {local_py}; cluster Ray {cluster_ray} / Python {cluster_py}"
    client = mode == connection_mod.MODE_CLIENT
    minor = lambda v: v.split(".")[:2]  # noqa: E731
    problems = []
    if local_ray != cluster_ray:
        problems.append("Ray versions differ")
    python_known = cluster_py not in ("", "?")
    if python_known and client and minor(local_py) != minor(cluster_py):
        problems.append("Python minor versions differ (Ray Client compares major.minor)")
    elif python_known and not client and local_py != cluster_py:
        problems.append("Python versions differ (a driver needs the exact same Python)")
    if problems:
        how = "Ray Client needs the same Ray and Python major.minor" if client else \
            "a driver needs the exact same Ray and Python"
        return (FAIL, f"{seen}: " + "; ".join(problems),
                f"{how}: install ray=={cluster_ray} on Python {cluster_py if not client else '.'.join(minor(cluster_py))}"
                " here (or connect from a matching environment)")
    if python_known and client and local_py != cluster_py:
        return (WARN, f"{seen}: Python patch versions differ (Ray Client allows it; Ray logs a warning)",
                f"match Python {cluster_py} to silence Ray's warning")
    return OK, seen + ": match", ""


def _local() -> tuple[str, str]:
    try:
        ray_version = metadata.version("ray")
    except metadata.PackageNotFoundError:
        ray_version = "not installed"
    return ray_version, platform.python_version()


def _cause_text(err: BaseException | None) -> str:
    texts = []
    while err is not None and len(texts) < 5:
        texts.append(str(err))
        err = err.__cause__ or err.__context__
    return "\n".join(texts)


@check(ID, "Versions", needs=("configuration",))
def versions(ctx: Context) -> CheckResult:
    local_ray, local_py = _local()
    failure, conn = ctx.inputs.failure, ctx.connection
    mode = ctx.mode or (conn.mode if conn else "")
    text = _cause_text(failure) if failure else ""
    parsed = parse_mismatch(text)
    if isinstance(failure, VersionMismatch) and failure.cluster[0]:
        (cray, cpy), (lray, lpy) = failure.cluster, failure.here
        parsed = {"cray": cray, "cpy": cpy or "?", "lray": lray, "lpy": lpy}
    if parsed or "version mismatch" in text.lower() or "minor versions differ" in text.lower():
        if parsed:
            status, seen, hint = compare(mode, parsed["lray"], parsed["lpy"], parsed["cray"], parsed["cpy"])
        else:
            status, seen, hint = FAIL, "Ray refused: " + text.splitlines()[0], \
                "install the cluster's Ray and Python versions here"
        return CheckResult(ID, FAIL, f"Ray's 'Version mismatch' error: {seen}", hint)
    source = ""
    if conn is not None and conn.mode == connection_mod.MODE_CLIENT:
        cluster_ray, cluster_py, source = conn.cluster_ray_version, conn.cluster_python_version, "Ray Client"
    elif ctx.cluster_metadata:
        cluster_ray = ctx.cluster_metadata.get("ray_version", "?")
        cluster_py = ctx.cluster_metadata.get("python_version", "?")
        source = "the GCS"
    elif conn is not None:
        cluster_ray, cluster_py, source = conn.cluster_ray_version, conn.cluster_python_version, "the connection"
    else:
        return skip(ID, f"skipped: the cluster's versions are unknown (not connected); local Ray {local_ray}, "
                        f"Python {local_py}")
    status, seen, hint = compare(mode or connection_mod.MODE_DRIVER, local_ray, local_py, cluster_ray, cluster_py)
    return CheckResult(ID, status, f"{seen} (cluster's from {source})", hint,
                       details=(("local ray", local_ray), ("local python", local_py),
                                ("cluster ray", cluster_ray), ("cluster python", cluster_py),
                                ("cluster versions from", source)))
