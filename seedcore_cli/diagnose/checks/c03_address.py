"""3. address resolution: what `auto`/default resolves to, a stale current-cluster file, and a
loopback target without RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (Ray rewrites it and hangs)."""

from __future__ import annotations

from seedcore_cli.diagnose.context import NOT_RECORDED, Context
from seedcore_cli.diagnose.model import FAIL, OK, WARN, CheckResult, fail
from seedcore_cli.diagnose.registry import check
from seedcore_cli.errors import NoCluster, quoted
from seedcore_cli.local import cluster as local_cluster
from seedcore_cli.ray_boundary import connection, probe
from seedcore_cli.ray_boundary.environment import LOOPBACK_ENV
from seedcore_cli.settings import ConnectionMode, is_loopback_host, split_address

ID = "address"


def rewrites_loopback(value: str | None) -> bool:
    """Whether Ray (on Linux) rewrites 127.0.0.1 to the network IP given the variable's value.

    Ray's env_bool: unset means enabled (rewrite); only 'true'/'1' keep it enabled when set.
    """
    return value is None or value.strip().lower() in ("true", "1")


def loopback_verdict(mode: str, host: str, before: str | None, now: str | None) -> tuple[str, str, str]:
    """(status, seen, hint) for the loopback rewrite; status '' when it does not apply.

    before: the variable before connect() could set it (NOT_RECORDED if unknown); now: today's.
    """
    if mode == ConnectionMode.CLIENT or not is_loopback_host(host):
        return "", "", ""
    value = now if before == NOT_RECORDED else before
    if now is not None and rewrites_loopback(now):
        return (FAIL, f"loopback target {host} but {LOOPBACK_ENV}={quoted(now)} in this process: Ray rewrites "
                      "127.0.0.1 to the network IP and ray.init hangs ('Failed to connect to GCS')",
                f"set {LOOPBACK_ENV}=0 (not 1) in the environment of the head and every driver")
    if rewrites_loopback(value):
        return (WARN, f"loopback target {host}: {LOOPBACK_ENV}=0 is not in the environment (seedcore sets "
                      "it for itself; other drivers on this address hang without it)",
                f"export {LOOPBACK_ENV}=0 in the environment of the head and of every SeedCore service")
    return OK, f"{LOOPBACK_ENV}={value} keeps loopback addresses on 127.0.0.1", ""


@check(ID, "Address resolution", needs=("configuration",))
def address(ctx: Context) -> CheckResult:
    s = ctx.resolved_settings
    target = s.target
    details: list[tuple[str, str]] = [("kind", target.kind)]
    recorded_file = connection.ray_current_cluster_file()
    try:
        mode, resolved, _ = connection.resolve_target(s, start_local=False)
    except NoCluster as err:
        local = local_cluster.status()
        if local.stale:
            err_hint = f"{err.hint} (the seedcore local cluster recorded in {local.state_file} is not running)"
        else:
            err_hint = err.hint
        return fail(ID, err.message, err_hint, details=(*details, ("current-cluster file", str(recorded_file))))
    ctx.mode = mode
    ctx.host, ctx.port = split_address(resolved)
    recorded = mode == ConnectionMode.DRIVER and target.kind in ("auto", "default")
    if recorded:
        ctx.origin = f"recorded in {recorded_file}"
        details.append(("current-cluster file", f"{recorded_file}: {resolved}"))
    elif mode == ConnectionMode.LOCAL:
        ctx.origin = "the seedcore local cluster"
    else:
        ctx.origin = f"from {s.address.source}" if s.address else "the default"
    how = {ConnectionMode.DRIVER: "driver", ConnectionMode.CLIENT: "Ray Client",
           ConnectionMode.LOCAL: "driver"}[mode]
    seen = f"{target.kind} -> {resolved} ({how}, {ctx.origin})"
    details += [("resolved", resolved), ("mode", mode)]

    if recorded and not probe.tcp_open(ctx.host, ctx.port, ctx.timeout):
        return fail(ID, f"stale current-cluster file: {recorded_file} records {resolved}, where nothing "
                        "answers (the cluster that wrote it is gone)",
                    "start a cluster (`seedcore cluster start`), set RAY_ADDRESS to a running one, "
                    f"or delete the stale {recorded_file}", details=tuple(details))

    status, loop_seen, loop_hint = loopback_verdict(mode, ctx.host, ctx.inputs.loopback_env_before,
                                                    ctx.inputs.env.get(LOOPBACK_ENV))
    if status:
        details.append(("loopback", loop_seen))
    if status in (WARN, FAIL):
        return CheckResult(ID, status, f"{seen}; {loop_seen}", loop_hint, details=tuple(details))
    return CheckResult(ID, OK, seen, details=tuple(details))
