"""6. versions: local against cluster Ray and Python. Drivers need the exact same Ray and Python;
Ray Client the same Ray and the same Python minor. Ray's own mismatch message, explained."""

from __future__ import annotations

import re

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import FAIL, OK, WARN, CheckResult, skip
from seedcore_cli.diagnose.registry import check
from seedcore_cli.errors import VersionMismatch
from seedcore_cli.ray_boundary import versions as compat
from seedcore_cli.settings import ConnectionMode

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


def compare(mode: str, local_ray: str, local_py: str, cluster_ray: str, cluster_py: str,
            match_level: str = compat.PATCH) -> tuple[str, str, str]:
    """(status, seen, hint) for a driver ('driver'/'local') or Ray Client ('client') connection,
    judged by versions.compatibility (connect()'s rule; match_level:
    RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL)."""
    seen = f"local Ray {local_ray} / Python {local_py}; cluster Ray {cluster_ray} / Python {cluster_py}"
    client = mode == ConnectionMode.CLIENT
    verdict = compat.compatibility(mode, (local_ray, local_py), (cluster_ray, cluster_py), match_level)
    minor_python = ".".join(cluster_py.split(".")[:2])
    if not verdict.compatible:
        if client:
            how = "Ray Client needs the same Ray and Python major.minor"
        elif match_level == compat.MINOR:
            how = f"a driver needs the exact same Ray and Python major.minor ({compat.MATCH_LEVEL_ENV}=minor)"
        else:
            how = "a driver needs the exact same Ray and Python"
        python = minor_python if client or match_level == compat.MINOR else cluster_py
        return (FAIL, f"{seen}: " + "; ".join(verdict.problems),
                f"{how}: install ray=={cluster_ray} on Python {python} here (or connect from a matching environment)")
    if verdict.warning:
        return WARN, f"{seen}: {verdict.warning}", f"match Python {cluster_py} to silence Ray's warning"
    return OK, seen + ": match", ""


def _cause_text(err: BaseException | None) -> str:
    texts: list[str] = []
    while err is not None and len(texts) < 5:
        texts.append(str(err))
        err = err.__cause__ or err.__context__
    return "\n".join(texts)


@check(ID, "Versions", needs=("configuration",))
def versions(ctx: Context) -> CheckResult:
    local_ray, local_py = compat.local_versions()
    level = compat.python_match_level(ctx.inputs.user_env)
    failure, conn = ctx.inputs.failure, ctx.connection
    mode = ctx.mode or (conn.mode if conn else "")
    text = _cause_text(failure) if failure else ""
    parsed = parse_mismatch(text)
    if isinstance(failure, VersionMismatch) and failure.cluster[0]:
        (cray, cpy), (lray, lpy) = failure.cluster, failure.here
        parsed = {"cray": cray, "cpy": cpy or "?", "lray": lray, "lpy": lpy}
    if parsed or "version mismatch" in text.lower() or "minor versions differ" in text.lower():
        if parsed:
            status, seen, hint = compare(mode, parsed["lray"], parsed["lpy"], parsed["cray"], parsed["cpy"], level)
        else:
            status, seen, hint = FAIL, "Ray refused: " + text.splitlines()[0], \
                "install the cluster's Ray and Python versions here"
        return CheckResult(ID, FAIL, f"Ray's 'Version mismatch' error: {seen}", hint)
    source = ""
    if conn is not None and conn.mode == ConnectionMode.CLIENT:
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
    status, seen, hint = compare(mode or ConnectionMode.DRIVER, local_ray, local_py, cluster_ray, cluster_py, level)
    return CheckResult(ID, status, f"{seen} (cluster's from {source})", hint,
                       details=(("local ray", local_ray), ("local python", local_py),
                                ("cluster ray", cluster_ray), ("cluster python", cluster_py),
                                ("cluster versions from", source)))
