"""What connect() settles before it hands a target to `ray.init`, in about a second.

Ray itself answers a wrong target slowly and vaguely: ~2 min on a closed GCS port, ~30 s on a
closed Ray Client port, ~20-30 s and a page of C++ warnings for a missing token, "neither a GCS
nor a Ray Client server" for a TLS mismatch. Each check here turns one of those into a one-line
error with its exit code (3) and a fix:

- check_reachable: the port is open and speaks what the address says (GCS, Ray Client), over
  the right transport (TLS or not, a trusted certificate);
- authenticate: a cluster that demands a token gets one, and accepts it;
- check_versions: the cluster's Ray (and, for drivers, Python) version is one this process can
  talk to (versions.compatibility: the rule diagnose judges with too).

Nothing here imports ray; nothing here reads the environment (connect() hands over what it read).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from seedcore_cli.errors import AuthenticationFailed, TlsMismatch, Unreachable, VersionMismatch
from seedcore_cli.ray_boundary import auth, environment, probe, ray_compat, tls, versions
from seedcore_cli.settings import DEFAULT_CLIENT_PORT, DEFAULT_GCS_PORT, ConnectionMode

PROBE_TIMEOUT_S = 2.0
MODE_CLIENT = ConnectionMode.CLIENT


def check_reachable(mode: ConnectionMode, host: str, port: int, origin: str, recorded: bool,
                    tls_files: probe.TlsFiles | None = None) -> probe.Protocol:
    """A short probe before ray.init: closed ports, wrong protocols and TLS mismatches fail here,
    in seconds. Returns what the port speaks (with its auth demand and versions).

    origin: where the address came from, for messages ('from RAY_ADDRESS', 'recorded in ...');
    recorded: the address is Ray's record of the last `ray start`.
    """
    spoken = probe.protocol_of(host, port, PROBE_TIMEOUT_S, tls=tls_files)
    name = spoken.name
    if name == probe.CLOSED:
        hint = "check that the cluster runs and the port is right"
        if mode == MODE_CLIENT:
            hint = f"check the Ray Client port (default {DEFAULT_CLIENT_PORT}) and that the head runs"
        elif recorded:
            hint = "that cluster is gone: start one with `seedcore cluster start` or set RAY_ADDRESS"
        raise Unreachable(f"cannot reach Ray at {host}:{port} ({origin})", hint)
    if name in (probe.TLS_REQUIRED, probe.TLS_NOT_SPOKEN, probe.TLS_UNTRUSTED, probe.TLS_FAILED):
        raise _tls_error(spoken, host, port, origin, "ray://" if mode == MODE_CLIENT else "", tls_files)
    if mode == MODE_CLIENT and name == probe.GCS:
        raise Unreachable(
            f"ray://{host}:{port} ({origin}) points at a GCS port, not the Ray Client server",
            f"use ray://{host}:{DEFAULT_CLIENT_PORT} (the Ray Client port), or {host}:{port} without ray:// as a driver",
        )
    if mode != MODE_CLIENT and name == probe.CLIENT:
        raise Unreachable(
            f"{host}:{port} ({origin}) is a Ray Client port, not a GCS address",
            f"use ray://{host}:{port} for Ray Client, or the GCS port (default {DEFAULT_GCS_PORT})",
        )
    if name == probe.OTHER:
        raise Unreachable(
            f"{host}:{port} ({origin}) answers but is neither a Ray GCS nor a Ray Client server",
            "check the port: GCS defaults to 6379, Ray Client to 10001",
        )
    if name == probe.SLOW:
        # Silent ports are refused too: a server that waits for its client to speak (Redis on
        # 6379, say) would otherwise leave ray.init hanging for minutes.
        raise Unreachable(
            f"{host}:{port} ({origin}) accepts connections but gave no Ray answer within "
            f"{PROBE_TIMEOUT_S:g} s: a frozen or overloaded {'Ray Client server' if mode == MODE_CLIENT else 'GCS'}, "
            "or not a Ray port",
            "check that it is a Ray GCS (default 6379) or Ray Client (10001) port, and that its process runs "
            "(not stopped, not overloaded)",
        )
    return spoken


def _tls_error(spoken: probe.Protocol, host: str, port: int, origin: str, scheme: str,
               tls_files: probe.TlsFiles | None) -> TlsMismatch:
    where = f"Ray at {scheme}{host}:{port} ({origin})"
    if spoken.name == probe.TLS_REQUIRED:
        return TlsMismatch(f"{where} requires TLS and {tls.USE_TLS_ENV} is not on here",
                           f"set {tls.SETUP}")
    if spoken.name == probe.TLS_NOT_SPOKEN:
        return TlsMismatch(f"{where} does not speak TLS, but {tls.USE_TLS_ENV} is on here",
                           f"unset {tls.USE_TLS_ENV} for this cluster, or start the head with TLS")
    if spoken.name == probe.TLS_UNTRUSTED:
        ca = tls_files.ca_path if tls_files is not None else ""
        return TlsMismatch(f"{where}: its TLS certificate is not signed by the CA in {tls.CA_ENV} "
                           f"({ca}): {spoken.detail}",
                           f"set {tls.CA_ENV} to the CA that signed the head's certificate")
    return TlsMismatch(f"{where}: the TLS handshake failed ({spoken.detail})",
                       f"check {tls.CERT_ENV}/{tls.KEY_ENV}: the head must accept this certificate")


def authenticate(mode: ConnectionMode, host: str, port: int, origin: str, spoken: probe.Protocol,
                 environ: Mapping[str, str], tls_files: probe.TlsFiles | None = None,
                 local_token: Path | None = None) -> tuple[probe.Protocol, auth.Token | None]:
    """Settle token authentication before Ray is imported: (what the port says with the token,
    the token, None when the cluster wants none).

    A cluster that demands a token gets the one Ray would find in the user's `environ`
    (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token; seedcore's own local cluster: its state
    file), checked with one more probe, and this process's Ray is put in token mode even if the
    user never exported RAY_AUTH_MODE. A missing or refused token fails here, in milliseconds.
    """
    if spoken.auth == probe.AUTH_NONE:
        return spoken, None
    scheme = "ray://" if mode == MODE_CLIENT else ""
    where = f"Ray at {scheme}{host}:{port} ({origin})"
    token = auth.read_token_file(local_token, "the local cluster") if local_token else auth.find_token(environ)
    if token is None:
        raise AuthenticationFailed(
            f"{where} requires token authentication and no token was found here "
            f"(looked in {auth.places(environ)})",
            auth.HOW_TO_GET,
        )
    checked = probe.protocol_of(host, port, PROBE_TIMEOUT_S, token_header=token.header, tls=tls_files)
    if checked.auth != probe.AUTH_NONE:
        raise AuthenticationFailed(
            f"{where} requires token authentication and refused the token from {token.source}",
            auth.REFUSED_HINT,
        )
    environment.enable_token_mode(token.value)
    if "ray" in sys.modules:  # imported before the mode was set (a library caller, the tests)
        ray_compat.reload_auth_config()
    return checked, token


def check_versions(mode: ConnectionMode, where: str, spoken: probe.Protocol, match_level: str) -> None:
    """Refuse a cluster whose Ray (or Python) this process cannot talk to, before ray.init.

    Only the GCS tells its versions before a session starts (versions.compatibility judges them,
    with RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL as `match_level`). A Ray Client proxy does not
    say; Ray's own check then fails within seconds and connect_errors.explain_init_error words it
    the same.
    """
    if not spoken.ray_version:
        return
    here = versions.local_versions()
    cluster = (spoken.ray_version, spoken.python_version)
    if not versions.compatibility(mode, here, cluster, match_level).compatible:
        raise version_mismatch(where, cluster, here)


def version_mismatch(where: str, cluster: tuple[str, str], here: tuple[str, str]) -> VersionMismatch:
    """where: the address and its origin, 'HOST:PORT (from RAY_ADDRESS)'."""
    cluster_ray, cluster_python = cluster
    here_ray, here_python = here
    if cluster_python and cluster_python != here_python:
        versions = f"Ray {cluster_ray} on Python {cluster_python}; seedcore here has Ray {here_ray} on Python {here_python}"
    else:
        versions = f"Ray {cluster_ray}; seedcore here has Ray {here_ray}" + (
            f" (Python {here_python} on both)" if cluster_python else "")
    return VersionMismatch(
        f"Ray version mismatch: the cluster at {where} runs {versions}",
        f"a driver needs the cluster's exact Ray and Python versions, Ray Client the same Ray and Python "
        f"minor version: install ray[default]=={cluster_ray} here, or run seedcore from an image built on "
        f"the cluster's Ray",
        cluster=cluster, here=here,
    )
