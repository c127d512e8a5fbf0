"""connect() / disconnect(): the only place in seedcore that calls `ray.init`.

One connection, made once, at the start. connect() is idempotent for the same target and
namespace, refuses a different one while connected (no allow_multiple, no re-init with other
arguments, no silent reuse), settles transport, token and versions first (preflight) so a wrong
target fails in seconds instead of Ray's 30-120 s waits, retries only Ray Client's transient
server-start failures (the same attempt again, never a second client), and maps Ray's init
errors to one-line causes with a hint.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from seedcore_cli import __version__
from seedcore_cli.errors import ConnectionConflict, NoCluster, SeedcoreError, SettingsError, fold
from seedcore_cli.local import cluster as local_cluster
from seedcore_cli.ray_boundary import auth, captured_output, connect_errors, liveness, preflight, probe, ray_compat, tls
from seedcore_cli.settings import Settings, Target, is_loopback_host, read_recorded_address, split_address

PROBE_TIMEOUT_S = preflight.PROBE_TIMEOUT_S
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
TASK_EVENTS_ENV = "RAY_task_events_report_interval_ms"
CONNECT_TIMEOUT_ENV = connect_errors.CONNECT_TIMEOUT_ENV
DEFAULT_CONNECT_TIMEOUT_S = 60.0
SEEDCORE_JOB_TAG = "seedcore_cli"  # sessions.SEEDCORE_TAG reads it back

MODE_DRIVER, MODE_CLIENT, MODE_LOCAL = preflight.MODE_DRIVER, preflight.MODE_CLIENT, preflight.MODE_LOCAL


@dataclass(frozen=True)
class Connection:
    """A live Ray connection and how it was made."""

    address: str  # as given ('' when nothing was configured)
    address_source: str
    resolved_address: str  # HOST:PORT for drivers, ray://HOST:PORT for Ray Client
    mode: str
    namespace: str
    namespace_source: str
    dashboard_url: str  # http://HOST:PORT, or '' when the cluster runs without a dashboard
    local_ray_version: str
    local_python_version: str
    cluster_ray_version: str
    cluster_python_version: str
    connect_seconds: float
    started_local_cluster: bool = False
    token_source: str = ""  # where the token came from ('' when the cluster wants none); never the token
    tls: bool = False
    local_raylets: tuple[tuple[str, int, str], ...] = ()  # (host, port, node id) on this machine (driver)

    def liveness_target(self) -> liveness.Target:
        """How to probe this cluster's components when a Ray call outlives its deadline."""
        host, port = split_address(self.resolved_address)
        return liveness.target_for(self.mode, host, port, tls.files_from_env(os.environ) if self.tls else None,
                                   self.token_source, os.environ, self.dashboard_url, self.local_raylets)

    def to_dict(self) -> dict:
        return asdict(self)


_current: Connection | None = None
_current_key: tuple[str, str] | None = None


def connect_timeout_from_env(environ) -> float:
    """SEEDCORE_CONNECT_TIMEOUT in seconds (default 60); exit 2 for anything but a number >= 0."""
    raw = environ.get(CONNECT_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_CONNECT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600 or value != value:
        raise SettingsError(f"{CONNECT_TIMEOUT_ENV}={fold(raw, 40)!r} is not a number of seconds between 0 and 3600",
                            f"set {CONNECT_TIMEOUT_ENV} to e.g. 60, or unset it")
    return value


def current() -> Connection | None:
    """The connection connect() made in this process, if any."""
    return _current


def ray_current_cluster_file() -> Path:
    """Where `ray start` records the latest cluster's GCS address: what `auto` reads."""
    base = os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()
    return Path(base) / "ray" / "ray_current_cluster"


def recorded_cluster_address() -> str | None:
    """HOST:PORT recorded there, None when nothing is; a malformed record is bad input (exit 2)."""
    return read_recorded_address(ray_current_cluster_file())


def connect(settings: Settings, start_local: bool = False, connect_timeout: float | None = None,
            progress: Callable[[str], None] | None = None,
            on_target: Callable[[liveness.Target, bool], None] | None = None) -> Connection:
    """Connect to the Ray cluster `settings` names, once.

    start_local: when nothing is configured (or `local`) and no cluster runs, start seedcore's
    embedded cluster instead of failing (bootstrap does; read-only commands never do).
    connect_timeout: how long Ray Client's transient start failures are retried (default:
    SEEDCORE_CONNECT_TIMEOUT, else 60 s); progress: called with a one-line note before each retry;
    on_target: told where ray.init is about to connect (and whether a local cluster was started
    first), so a watcher can probe that cluster if ray.init blocks (deadline.connect_within).
    """
    global _current, _current_key
    key = (settings.target.kind + ":" + settings.target.endpoint, settings.namespace.value)
    if _current is not None:
        if key == _current_key:
            return _current
        raise ConnectionConflict(
            f"already connected to {_current.resolved_address} in namespace {_current.namespace!r}; "
            f"refusing a second connection to {settings.target.raw or 'the default cluster'} "
            f"in namespace {settings.namespace.value!r}",
            "call disconnect() first, or use the existing connection",
        )

    started = time.monotonic()
    _refuse_outside_session()  # before anything here touches the process's Ray or environment
    if connect_timeout is None:
        connect_timeout = connect_timeout_from_env(os.environ)
    captured_output.clear()
    mode, address, started_local = resolve_target(settings, start_local)
    host, port = split_address(address)
    tls_files = tls.files_from_env(os.environ)
    origin, recorded = _origin(settings, mode)
    spoken = preflight.check_reachable(mode, host, port, origin, recorded, tls_files)
    # seedcore's own token-auth head, however addressed; looked up only when a token is wanted
    local_token = local_cluster.token_file_for(host, port) if spoken.auth != probe.AUTH_NONE else None
    try:  # authenticate() may put this process in token mode: undone if we do not connect
        spoken, token_source = preflight.authenticate(mode, host, port, origin, spoken, tls_files, local_token)
        preflight.check_versions(mode, f"{address} ({origin})", spoken)
        # The preflight probe already read the dashboard's address from the GCS (driver mode).
        target = liveness.target_for(mode, host, port, tls_files, token_source, os.environ,
                                     f"http://{spoken.dashboard}" if spoken.dashboard else "")
        if on_target is not None:
            on_target(target, started_local)
        # A driver's ray.init attaches to this machine's raylet and, if it is frozen, blocks
        # ~30 s holding the GIL (no watchdog thread runs meanwhile): ask it first (milliseconds).
        raylets = liveness.check_local_raylets(target, f"{address} ({origin})") if mode == MODE_DRIVER else ()
        ray = _import_ray(loopback=is_loopback_host(host))
        context = _init(ray, settings, address, mode, connect_timeout, progress)
    except BaseException:
        auth.restore_environment(os.environ)
        raise
    _ship_code_by_value(ray)
    if mode == MODE_DRIVER:
        ray_compat.cluster_messages_to_stderr()

    dashboard = getattr(context, "dashboard_url", "") or ""
    local_python = platform.python_version()
    _current = Connection(
        address=settings.address.value if settings.address else "",
        address_source=settings.address.source if settings.address else "default",
        resolved_address=address,
        mode=mode,
        namespace=settings.namespace.value,
        namespace_source=settings.namespace.source,
        dashboard_url=f"http://{dashboard}" if dashboard and "://" not in dashboard else dashboard,
        local_ray_version=ray.__version__,
        local_python_version=local_python,
        # Drivers only connect when versions match exactly; Ray Client reports the server's.
        cluster_ray_version=getattr(context, "ray_version", None) or ray.__version__,
        cluster_python_version=getattr(context, "python_version", None) or local_python,
        connect_seconds=round(time.monotonic() - started, 3),
        started_local_cluster=started_local,
        token_source=token_source,
        tls=tls_files is not None,
        local_raylets=raylets,
    )
    _current_key = key
    return _current


def _init(ray, settings: Settings, address: str, mode: str, budget_s: float,
          progress: Callable[[str], None] | None, sleep: Callable[[float], None] = time.sleep):
    """ray.init, once; through Ray Client, again while the proxy fails to start this client's
    server, with backoff and jitter, while `budget_s` lasts. The budget bounds when another try
    may start; a try in flight ends on Ray's own clock (a failed server start takes Ray ~30-40 s
    to report). Each try is the same one connection attempt: the failed one is shut down before
    the next and before giving up (never two clients)."""
    started = time.monotonic()
    deadline = started + budget_s
    for attempt in itertools.count(1):
        try:
            with captured_output.captured():
                # A driver's job is tagged as seedcore's own (`seedcore connections` tells it from
                # services); a Ray Client session shows as its server anyway, and Ray Client cannot
                # carry a JobConfig through ray.init here.
                tag = {} if mode == MODE_CLIENT else {
                    "job_config": ray.job_config.JobConfig(metadata={SEEDCORE_JOB_TAG: __version__})}
                return ray.init(address=address, namespace=settings.namespace.value,
                                logging_level=logging.ERROR, log_to_driver=False, **tag)
        except SeedcoreError:
            raise
        except Exception as err:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
            failure = connect_errors.client_start_failure(err) if mode == MODE_CLIENT else ""
            if failure == "setup":
                raise connect_errors.session_refused(err, settings, address) from err
            if failure != "transient":
                raise connect_errors.explain_init_error(err, settings, address) from err
            with contextlib.suppress(Exception):
                ray.shutdown()
            pause = min(8.0, 0.5 * 2 ** attempt) * random.uniform(0.5, 1.0)
            if time.monotonic() + pause >= deadline:
                raise connect_errors.overloaded(address, settings, attempt, time.monotonic() - started) from err
            if progress is not None:
                progress(f"the Ray Client proxy at {address} could not start a server for this client "
                         f"(try {attempt}); trying again for up to {max(0.0, deadline - time.monotonic()):.0f} s")
            sleep(pause)


def disconnect() -> None:
    """Drop the connection connect() made (for library and test use), and give the process back
    the RAY_AUTH_* variables it had before."""
    global _current, _current_key
    if _current is not None:
        import ray

        ray.shutdown()
    _current, _current_key = None, None
    auth.restore_environment(os.environ)


def _refuse_outside_session() -> None:
    """A Ray session this process opened without seedcore: refuse it, never join or replace it."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        raise ConnectionConflict(
            f"Ray is already initialized in this process (namespace "
            f"{ray.get_runtime_context().namespace!r}) by a call to ray.init outside seedcore",
            "let seedcore's connect() make the one connection, or call ray.shutdown() first",
        )


def resolve_target(settings: Settings, start_local: bool) -> tuple[str, str, bool]:
    """(mode, address for ray.init, whether the local cluster was started now)."""
    target: Target = settings.target
    source = settings.address.source if settings.address else "default"
    if target.kind == "gcs":
        return MODE_DRIVER, target.endpoint, False
    if target.kind == "client":
        return MODE_CLIENT, f"ray://{target.endpoint}", False
    if target.kind in ("default", "local"):
        cluster = local_cluster.running()
        if cluster is not None:
            return MODE_LOCAL, cluster.gcs_address, False
    stale = ""
    if target.kind in ("default", "auto"):
        recorded = recorded_cluster_address()
        # `auto` means that cluster, reachable or not (check_reachable says it is gone); with
        # nothing configured, a recorded cluster that no longer answers is just not there.
        if recorded and (target.kind == "auto" or probe.tcp_open(*split_address(recorded), PROBE_TIMEOUT_S)):
            return MODE_DRIVER, recorded, False
        if recorded:
            stale = f" (the cluster recorded in {ray_current_cluster_file()} at {recorded} does not answer)"
        if target.kind == "auto":
            raise NoCluster(
                f"no running Ray cluster found for address 'auto' (from {source}): "
                f"{ray_current_cluster_file()} does not exist",
                "start one with `seedcore cluster start`, or set RAY_ADDRESS to HOST:PORT or ray://HOST:10001",
            )
    if start_local:
        cluster, _ = local_cluster.start()
        return MODE_LOCAL, cluster.gcs_address, True
    what = "the seedcore local cluster is not running" if target.kind == "local" else (
        "no Ray address is configured and no Ray cluster runs on this machine" + stale
    )
    raise NoCluster(what, "run `seedcore cluster start`, or set RAY_ADDRESS (HOST:PORT or ray://HOST:10001)")


def _origin(settings: Settings, mode: str) -> tuple[str, bool]:
    """('from RAY_ADDRESS' / 'recorded in ...' / 'default', whether it is Ray's recorded cluster)."""
    recorded = settings.target.kind == "auto" or (settings.target.kind == "default" and mode == MODE_DRIVER)
    if recorded:
        return f"recorded in {ray_current_cluster_file()}", True
    return (f"from {settings.address.source}" if settings.address else "default"), False


def check_reachable(settings: Settings, mode: str, host: str, port: int,
                    tls_files: probe.TlsFiles | None = None) -> probe.Protocol:
    """preflight.check_reachable with the origin of this target (for diagnose and connect)."""
    origin, recorded = _origin(settings, mode)
    return preflight.check_reachable(mode, host, port, origin, recorded, tls_files)


_UNCHANGED = object()
_loopback_env_before: str | None | object = _UNCHANGED


def loopback_env_before_connect() -> str | None:
    """RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER as the user had it, before connect() set it to 0."""
    if _loopback_env_before is _UNCHANGED:
        return os.environ.get(LOOPBACK_ENV)
    return _loopback_env_before  # type: ignore[return-value]


def _import_ray(loopback: bool):
    """Import ray; for a loopback target, keep Ray from rewriting 127.0.0.1 to the network IP.

    Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER when it is imported; without it set to 0 a
    driver resolves 127.0.0.1 to the machine's network IP and hangs connecting to the GCS.
    """
    global _loopback_env_before
    if loopback:
        if _loopback_env_before is _UNCHANGED:
            _loopback_env_before = os.environ.get(LOOPBACK_ENV)
        # Forced even over an explicit "1": with it, ray.init on 127.0.0.1 can only hang.
        os.environ[LOOPBACK_ENV] = "0"
    # seedcore's driver runs a few status probes and exits; reporting their task events to the
    # dashboard is not worth it, and flushing them makes every ray.shutdown() wait ~0.25 s
    # (task_events_shutdown_flush_timeout_ms). A value the user set is kept.
    os.environ.setdefault(TASK_EVENTS_ENV, "0")
    # Ray's C++ core writes its WARNING/INFO lines (gcs_client.cc retries, say) straight to this
    # process's stderr, during and after ray.init; a CLI's user sees errors only. A value the
    # user set is kept (RAY_BACKEND_LOG_LEVEL=info brings them back).
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    already_imported = "ray" in sys.modules
    import ray

    if loopback and already_imported:  # imported before the variable was set (a library caller)
        ray_compat.keep_loopback()
    return ray


def _ship_code_by_value(ray) -> None:
    """Make everything seedcore sends to the cluster travel by value.

    Actor classes, and the functions given to `__ray_call__`, are pickled by reference by
    default: the workers would then import seedcore_cli, which a stock cluster (KubeRay on the
    `rayproject/ray` image) does not have. Registering the package makes Ray's pickler (driver
    and Ray Client alike) send the code itself. Code that runs in actors therefore imports only
    the standard library and ray at call time, never other seedcore modules.
    """
    import seedcore_cli

    with contextlib.suppress(ValueError):  # already registered by an earlier connect()
        ray.cloudpickle.register_pickle_by_value(seedcore_cli)
