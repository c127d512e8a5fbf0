"""1. configuration: where address and namespace came from, disagreements, malformed values, .env."""

from __future__ import annotations

from collections.abc import Mapping

from seedcore_cli import settings as settings_mod
from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, fail, ok, warn
from seedcore_cli.diagnose.registry import check
from seedcore_cli.diagnose.secrets import shown
from seedcore_cli.errors import SettingsError, bare, quoted

ID = "configuration"
# Variables seedcore or Ray read that decide where and how a driver connects.
WATCHED = (*settings_mod.ENV_KEYS, "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH",
           "RAY_TMPDIR", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_API_SERVER_ADDRESS",
           "RAY_IGNORE_VERSION_MISMATCH")


def watched_variables(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(name, shown value) of the watched variables and any SEEDCORE_* set in `environ`."""
    names = [n for n in WATCHED if n in environ]
    names += sorted(n for n in environ if n.startswith("SEEDCORE_") and n not in names)
    return [(n, shown(n, environ[n])) for n in names]


def legacy_disagreement(s: settings_mod.Settings, lookup: Mapping[str, str]) -> str | None:
    """RAY_HOST/RAY_PORT (legacy, Ray Client) set but pointing elsewhere than the address used."""
    host = lookup.get("RAY_HOST")
    if host is None or s.address is None or s.address.source.startswith("RAY_HOST"):
        return None
    port_text = lookup.get("RAY_PORT", str(settings_mod.DEFAULT_CLIENT_PORT))
    legacy = f"ray://{host}:{port_text}"
    t = s.target
    if t.kind == "client" and t.host == host and str(t.port) == port_text.strip():
        return None
    return (f"legacy RAY_HOST/RAY_PORT say {bare(legacy)} but the address used is {quoted(s.address.value)} "
            f"(from {s.address.source})")


def _merged(ctx: Context) -> dict[str, str]:
    """The environment over the .env file: what settings.resolve() looked up."""
    merged = dict(ctx.env_file_values)
    merged.update({k: v for k, v in ctx.inputs.env.items() if k in settings_mod.ENV_KEYS})
    return merged


@check(ID, "Configuration")
def configuration(ctx: Context) -> CheckResult:
    inputs = ctx.inputs
    details = watched_variables(inputs.user_env)  # the user's own values, not what connect() set
    env_part = "no .env file"
    try:
        path, values = settings_mod.read_env_file(inputs.env_file, inputs.cwd)
    except SettingsError:  # resolving fails on it too, and says why
        path, values, env_part = None, {}, "nothing in the .env file was used"
    ctx.env_file_values = dict(values)
    if path is not None:
        keys = ", ".join(sorted(values)) or "no keys"
        env_part = f".env {path} sets {keys}"
        details.append((".env", str(path)))
        details += [(f".env {k}", shown(k, v)) for k, v in sorted(values.items())]

    s = inputs.settings
    if s is None:
        err = inputs.failure
        if not isinstance(err, SettingsError):
            try:  # the caller did not resolve: do it here to name the problem
                s = settings_mod.resolve(inputs.address, inputs.namespace, inputs.env_file,
                                         inputs.env, inputs.cwd)
            except SettingsError as resolved_err:
                err = resolved_err
        if s is None:
            assert err is not None  # the caller's failure, or resolving it here, says why
            return fail(ID, f"settings do not resolve: {err.message}; {env_part}",
                        err.hint or "fix the value named above", details=tuple(details))
        inputs.resolved = s

    where = (f"address {s.address.value} (from {s.address.source})" if s.address
             else "address not set (local cluster, else auto)")
    seen = f"{where}; namespace {s.namespace.value} (from {s.namespace.source}); {env_part}"
    details = [("address", s.address.value if s.address else ""),
               ("address source", s.address.source if s.address else "default"),
               ("namespace", s.namespace.value), ("namespace source", s.namespace.source), *details]

    problems, hints = list(s.warnings), []
    if s.warnings:
        hints.append("set SEEDCORE_NS and RAY_NAMESPACE to the same namespace (or unset RAY_NAMESPACE): "
                     "services that read the other one look for actors in the wrong namespace")
    merged = _merged(ctx)
    legacy = legacy_disagreement(s, merged)
    if legacy:
        problems.append(legacy)
        hints.append("unset the legacy RAY_HOST/RAY_PORT, or make them agree with RAY_ADDRESS")
    port = merged.get("RAY_PORT")
    if port is not None and s.address is not None and not s.address.source.startswith("RAY_HOST"):
        try:
            settings_mod.parse_port(port, "RAY_PORT", "RAY_PORT")
        except SettingsError as err:
            problems.append(f"{err.message} (ignored: the address comes from {s.address.source})")
            hints.append(err.hint)
    if problems:
        return warn(ID, f"{seen}; " + "; ".join(problems), "; ".join(hints), details=tuple(details))
    return ok(ID, seen, details=tuple(details))
