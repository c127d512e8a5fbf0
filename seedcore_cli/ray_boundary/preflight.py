"""What connect() settles before it hands a target to `ray.init`, in about a second.

Ray itself answers a wrong target slowly and vaguely: ~2 min on a closed GCS port, ~30 s on a
closed Ray Client port, ~20-30 s and a page of C++ warnings for a missing token, "neither a GCS
nor a Ray Client server" for a TLS mismatch. Each check here turns one of those into a one-line
error with its exit code (3) and a fix:

- check_reachable: the port is open and speaks what the address says (GCS, Ray Client), over
  the right transport (TLS or not, a trusted certificate);
- authenticate: a cluster that demands a token gets one, and accepts it;
- check_versions: the cluster's Ray (and, for drivers, Python) version is the one here.

Nothing here imports ray.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from seedcore_cli.errors import AuthenticationFailed, TlsMismatch, Unreachable, VersionMismatch
from seedcore_cli.ray_boundary import auth, probe, ray_compat, tls
from seedcore_cli.settings import DEFAULT_CLIENT_PORT, DEFAULT_GCS_PORT

PROBE_TIMEOUT_S = 2.0

MODE_DRIVER = "driver"  # a driver attached to a GCS address (HOST:PORT or auto)
MODE_CLIENT = "client"  # Ray Client (ray://HOST:PORT)
MODE_LOCAL = "local"  # a driver attached to seedcore's embedded loopback cluster


def check_reachable(mode: str, host: str, port: int, origin: str, recorded: bool,
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
        raise _tls_error(spoken, host, port, origin, "ray://" if mode == MODE_CLIENT else "")
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


def _tls_error(spoken: probe.Protocol, host: str, port: int, origin: str, scheme: str) -> TlsMismatch:
    where = f"Ray at {scheme}{host}:{port} ({origin})"
    if spoken.name == probe.TLS_REQUIRED:
        return TlsMismatch(f"{where} requires TLS and {tls.USE_TLS_ENV} is not on here",
                           f"set {tls.SETUP}")
    if spoken.name == probe.TLS_NOT_SPOKEN:
        return TlsMismatch(f"{where} does not speak TLS, but {tls.USE_TLS_ENV} is on here",
                           f"unset {tls.USE_TLS_ENV} for this cluster, or start the head with TLS")
    if spoken.name == probe.TLS_UNTRUSTED:
        ca = os.environ.get(tls.CA_ENV, "")
        return TlsMismatch(f"{where}: its TLS certificate is not signed by the CA in {tls.CA_ENV} "
                           f"({ca}): {spoken.detail}",
                           f"set {tls.CA_ENV} to the CA that signed the head's certificate")
    return TlsMismatch(f"{where}: the TLS handshake failed ({spoken.detail})",
                       f"check {tls.CERT_ENV}/{tls.KEY_ENV}: the head must accept this certificate")


def authenticate(mode: str, host: str, port: int, origin: str, spoken: probe.Protocol,
                 tls_files: probe.TlsFiles | None = None,
                 local_token: Path | None = None) -> tuple[probe.Protocol, str]:
    """Settle token authentication before Ray is imported: (what the port says with the token,
    where the token came from, '' when the cluster wants none).

    A cluster that demands a token gets the one Ray would find (RAY_AUTH_TOKEN,
    RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token; seedcore's own local cluster: its state file), checked
    with one more probe, and this process's Ray is put in token mode even if the user never
    exported RAY_AUTH_MODE. A missing or refused token fails here, in milliseconds.
    """
    if spoken.auth == probe.AUTH_NONE:
        return spoken, ""
    scheme = "ray://" if mode == MODE_CLIENT else ""
    where = f"Ray at {scheme}{host}:{port} ({origin})"
    token = auth.read_token_file(local_token, "the local cluster") if local_token else auth.find_token(os.environ)
    if token is None:
        raise AuthenticationFailed(
            f"{where} requires token authentication and no token was found here "
            f"(looked in {auth.places(os.environ)})",
            auth.HOW_TO_GET,
        )
    checked = probe.protocol_of(host, port, PROBE_TIMEOUT_S, token_header=token.header, tls=tls_files)
    if checked.auth != probe.AUTH_NONE:
        raise AuthenticationFailed(
            f"{where} requires token authentication and refused the token from {token.source}",
            "the token belongs to another cluster or was rotated: " + auth.HOW_TO_GET,
        )
    auth.enable_token_mode(os.environ, token)
    if "ray" in sys.modules:  # imported before the mode was set (a library caller, the tests)
        ray_compat.reload_auth_config()
    return checked, token.source


def check_versions(mode: str, where: str, spoken: probe.Protocol) -> None:
    """Refuse a cluster whose Ray (or Python) this process cannot talk to, before ray.init.

    Only the GCS tells its versions before a session starts: a driver needs the cluster's exact
    Ray and Python (Python to the patch level, or the minor one when
    RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL=minor, as Ray itself checks). A Ray Client proxy does
    not say; Ray's own check then fails within seconds and connect_errors.explain_init_error words it the same.
    """
    if not spoken.ray_version:
        return
    local_ray, local_python = local_versions()
    level = os.environ.get("RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL", "patch").strip().lower()
    width = 2 if level == "minor" else 3
    python_differs = bool(spoken.python_version) and \
        spoken.python_version.split(".")[:width] != local_python.split(".")[:width]
    if spoken.ray_version != local_ray or (mode != MODE_CLIENT and python_differs):
        raise version_mismatch(where, (spoken.ray_version, spoken.python_version), (local_ray, local_python))


def local_versions() -> tuple[str, str]:
    """(Ray, Python) versions of this process, without importing ray."""
    from importlib.metadata import version

    return version("ray"), platform.python_version()


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
