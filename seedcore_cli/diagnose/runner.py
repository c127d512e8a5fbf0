"""Run the registered checks in order, skip what depends on a failure, mask secrets, time it all.

Every check runs under a deadline (check_bound): a Ray or HTTP call that hangs (GCS lookups have no
timeout of their own) fails that check instead of holding diagnose for Ray's 30-120 s.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import fields, replace
from pathlib import Path

from seedcore_cli.diagnose import bounded, checks, registry, secrets
from seedcore_cli.diagnose.context import NOT_RECORDED, Context, Inputs
from seedcore_cli.diagnose.model import FAIL, SKIP, CheckResult, Report
from seedcore_cli.errors import SeedcoreError


def run(inputs: Inputs, strict: bool = False) -> Report:
    """Run every check against `inputs`."""
    started = time.monotonic()
    ctx = Context(inputs=inputs)
    results: list[CheckResult] = []
    for check in checks.all_checks():
        result = _run_one(check, ctx)
        ctx.results[check.id] = result
        results.append(result)
    hidden = secrets.secret_values(inputs.env, ctx.env_file_values)
    masked = tuple(secrets.redact_result(r, hidden) for r in results)
    return Report(masked, strict=strict, seconds=round(time.monotonic() - started, 3))


def check_bound(timeout: float) -> float:
    """Seconds one check may take: its calls take `timeout` each, at most two back to back, plus
    slack for the GCS lookups and thread start-up of a loaded machine."""
    return 2 * timeout + 2


def _call(check: registry.Check, ctx: Context) -> CheckResult:
    """The check's result; run on a daemon thread within check_bound() unless check.bounded is False.

    A bounded check works on a copy of the context, adopted only when it finishes in time: a check
    abandoned on its thread cannot change what later checks read.
    """
    if not check.bounded:
        return check.func(ctx)
    work = replace(ctx, results=dict(ctx.results), env_file_values=dict(ctx.env_file_values))
    limit = check_bound(ctx.timeout)
    try:
        result = bounded.call(check.func, work, timeout=limit)
    except bounded.TimedOut:
        return CheckResult(check.id, FAIL, f"no answer within {limit:g} s (a Ray or State API call hung)",
                           "the cluster is overloaded or hung: check the head (`ray status`, its GCS and "
                           "dashboard logs), or rerun with a larger timeout")
    for f in fields(ctx):
        setattr(ctx, f.name, getattr(work, f.name))
    return result


def _run_one(check: registry.Check, ctx: Context) -> CheckResult:
    blocked = [n for n in check.needs if ctx.status_of(n) in (FAIL, SKIP)]
    if blocked:
        reasons = ", ".join(f"{n} {ctx.status_of(n)}{'ed' if ctx.status_of(n) == FAIL else 'ped'}"
                            for n in blocked)
        return CheckResult(check.id, SKIP, f"skipped: {reasons}", title=check.title)
    began = time.monotonic()
    try:
        result = _call(check, ctx)
    except SeedcoreError as err:
        result = CheckResult(check.id, FAIL, err.message, err.hint)
    except Exception as err:  # a check's own bug must not hide the other checks
        last = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
        where = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
        result = CheckResult(check.id, FAIL, f"the check itself failed: {type(err).__name__}: {err}{where}",
                             "this is a seedcore bug; rerun with -v and report it")
    return replace(result, title=result.title or check.title, seconds=round(time.monotonic() - began, 3))


def diagnose(
    address: str | None = None,
    namespace: str | None = None,
    env_file: Path | None = None,
    *,
    strict: bool = False,
    timeout: float | None = None,
    organism_config: Path | None = None,
) -> Report:
    """Library entry point: resolve settings, connect() once (recording a failure), run the checks.

    Safe to call in a process that already holds a Ray connection: connect() then refuses
    (ConnectionConflict) and the connection and namespace checks say why. Nothing is exited
    or printed.
    """
    from seedcore_cli import settings
    from seedcore_cli.ray_boundary import connection, environment

    user_environ = environment.user_environment()
    resolved = None
    try:
        resolved = settings.resolve(address=address, namespace=namespace, env_file=env_file)
        made = connection.connect(resolved)
        attempt = connection.ConnectAttempt(resolved, made, None, dict(made.user_environ), address, namespace, env_file)
    except SeedcoreError as err:
        attempt = connection.ConnectAttempt(resolved, None, err, user_environ, address, namespace, env_file)
    inputs = Inputs(attempt, organism_config=organism_config)
    if timeout is not None:
        inputs.timeout = timeout
    return run(inputs, strict=strict)


__all__ = ["run", "diagnose", "NOT_RECORDED"]
