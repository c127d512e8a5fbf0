"""connect() / disconnect(): the only place in seedcore that calls `ray.init`.

One connection, made once, at the start. connect() is idempotent for the same target and
namespace, refuses a different one while connected (no allow_multiple, no re-init with other
arguments, no silent reuse), settles transport, token and versions first (preflight) so a wrong
target fails in seconds instead of Ray's 30-120 s waits, retries only Ray Client's transient
server-start failures (the same attempt again, never a second client), and maps Ray's init
errors to one-line causes with a hint.

Invariant: the user's environment is read once, at the start of connect(), and what connect()
settled from it (the token and where it came from, the TLS files, RAY_API_SERVER_ADDRESS, the
environment as the user set it) travels on the Connection; nothing downstream reads os.environ
for those. The process's one connection is this module's state (the only module with globals).
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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from seedcore_cli import __version__
from seedcore_cli.errors import ConnectionConflict, NoCluster, SeedcoreError, SettingsError, fold
from seedcore_cli.local import cluster as local_cluster
from seedcore_cli.ray_boundary import (
    auth,
    captured_output,
    connect_errors,
    environment,
    liveness,
    preflight,
    probe,
    ray_compat,
    state_api,
    tls,
    versions,
)
from seedcore_cli.settings import (
    ConnectionMode,
    Settings,
    Target,
    http_url,
    is_loopback_host,
    read_recorded_address,
    split_address,
)

PROBE_TIMEOUT_S = preflight.PROBE_TIMEOUT_S
CONNECT_TIMEOUT_ENV = connect_errors.CONNECT_TIMEOUT_ENV
DEFAULT_CONNECT_TIMEOUT_S = 60.0
SEEDCORE_JOB_TAG = "seedcore_cli"  # sessions.SEEDCORE_TAG reads it back

# What connect() settled but `seedcore info` does not show (the token above all).
_NOT_SHOWN = {"shown": False}


@dataclass(frozen=True)
class Connection:
    """A live Ray connection, how it was made, and what connect() settled for everything that
    talks to the cluster afterwards."""

    address: str  # as given ('' when nothing was configured)
    address_source: str
    resolved_address: str  # HOST:PORT for drivers, ray://HOST:PORT for Ray Client
    mode: ConnectionMode
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
    # The token sent to the cluster and its dashboard: the one the preflight probe saw accepted,
    # else the user's own in token mode; None when none is sent. Never shown.
    token: auth.Token | None = field(default=None, repr=False, metadata=_NOT_SHOWN)
    tls_files: probe.TlsFiles | None = field(default=None, repr=False, metadata=_NOT_SHOWN)
    api_server_address: str = field(default="", metadata=_NOT_SHOWN)  # RAY_API_SERVER_ADDRESS as set
    # The environment as the user set it, before connect() changed this process's (for diagnose).
    user_environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False, metadata=_NOT_SHOWN)

    def liveness_target(self) -> liveness.Target:
        """How to probe this cluster's components when a Ray call outlives its deadline."""
        host, port = split_address(self.resolved_address)
        return liveness.target_for(self.mode, host, port, self.tls_files, self.token, self.dashboard_url,
                                   self.api_server_address, self.local_raylets)

    def to_dict(self) -> dict:
        """What `seedcore info` and diagnose show: never the token, the files or the environment."""
        shown = asdict(self)
        return {f.name: shown[f.name] for f in fields(self) if f.metadata.get("shown", True)}


@dataclass(frozen=True)
class ConnectAttempt:
    """One connect() attempt as one plain value (diagnose reports it, failed or not): the settings
    (None when they did not resolve), the connection or the failure, the environment as the user
    set it, and the root options as given (diagnose resolves again to name a settings problem)."""

    settings: Settings | None = None
    connection: Connection | None = None
    failure: SeedcoreError | None = None
    user_environ: Mapping[str, str] | None = None  # None: not recorded (a library caller)
    address: str | None = None
    namespace: str | None = None
    env_file: Path | None = None


@dataclass(frozen=True)
class RaySession:
    """A Ray connection held by this process, whoever made it.

    owner: 'seedcore' (connect() made it) or 'outside' (a ray.init elsewhere in the process).
    """

    kind: ConnectionMode  # DRIVER or CLIENT
    namespace: str
    address: str
    owner: str
    client_contexts: int = 0  # Ray Client contexts open in this process (allow_multiple adds more)


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
    user_environ = environment.user_environment()  # read once; what follows is settled from it
    if connect_timeout is None:
        connect_timeout = connect_timeout_from_env(user_environ)
    captured_output.clear()
    mode, address, started_local = resolve_target(settings, start_local)
    host, port = split_address(address)
    tls_files = tls.files_from_env(user_environ)
    origin, recorded = _origin(settings, mode)
    where = f"{address} ({origin})"
    spoken = preflight.check_reachable(mode, host, port, origin, recorded, tls_files)
    # seedcore's own token-auth head, however addressed; looked up only when a token is wanted
    local_token = local_cluster.token_file_for(host, port) if spoken.auth != probe.AUTH_NONE else None
    api_server_address = user_environ.get(state_api.API_SERVER_ENV, "").strip()
    try:  # authenticate() may put this process in token mode: undone if we do not connect
        spoken, token = preflight.authenticate(mode, host, port, origin, spoken, user_environ, tls_files, local_token)
        preflight.check_versions(mode, where, spoken, versions.python_match_level(user_environ))
        # The preflight probe already read the dashboard's address from the GCS (driver mode).
        target = liveness.target_for(mode, host, port, tls_files, token or auth.token_to_send(user_environ),
                                     http_url(spoken.dashboard), api_server_address)
        if on_target is not None:
            on_target(target, started_local)
        # A driver's ray.init attaches to this machine's raylet and, if it is frozen, blocks
        # ~30 s holding the GIL (no watchdog thread runs meanwhile): ask it first (milliseconds).
        raylets = liveness.check_local_raylets(target, where) if mode == ConnectionMode.DRIVER else ()
        ray = _import_ray(loopback=is_loopback_host(host))
        context = _init(ray, settings, address, mode, connect_timeout, progress)
    except BaseException:
        environment.restore_token_mode()
        raise
    _ship_code_by_value(ray)
    if mode == ConnectionMode.DRIVER:
        ray_compat.cluster_messages_to_stderr()

    local_python = platform.python_version()
    _current = Connection(
        address=settings.address.value if settings.address else "",
        address_source=settings.address.source if settings.address else "default",
        resolved_address=address,
        mode=mode,
        namespace=settings.namespace.value,
        namespace_source=settings.namespace.source,
        dashboard_url=http_url(getattr(context, "dashboard_url", "") or ""),
        local_ray_version=ray.__version__,
        local_python_version=local_python,
        # Drivers only connect when versions match exactly; Ray Client reports the server's.
        cluster_ray_version=getattr(context, "ray_version", None) or ray.__version__,
        cluster_python_version=getattr(context, "python_version", None) or local_python,
        connect_seconds=round(time.monotonic() - started, 3),
        started_local_cluster=started_local,
        token_source=token.source if token else "",
        tls=tls_files is not None,
        local_raylets=raylets,
        token=token or auth.token_to_send(user_environ),
        tls_files=tls_files,
        api_server_address=api_server_address,
        user_environ=user_environ,
    )
    _current_key = key
    return _current


def _init(ray, settings: Settings, address: str, mode: ConnectionMode, budget_s: float,
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
                tag = {} if mode == ConnectionMode.CLIENT else {
                    "job_config": ray.job_config.JobConfig(metadata={SEEDCORE_JOB_TAG: __version__})}
                return ray.init(address=address, namespace=settings.namespace.value,
                                logging_level=logging.ERROR, log_to_driver=False, **tag)
        except SeedcoreError:
            raise
        except Exception as err:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
            failure = connect_errors.client_start_failure(err) if mode == ConnectionMode.CLIENT else ""
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
    environment.restore_token_mode()


def _refuse_outside_session() -> None:
    """A Ray session this process opened without seedcore: refuse it, never join or replace it."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        raise ConnectionConflict(
            f"Ray is already initialized in this process (namespace "
            f"{ray.get_runtime_context().namespace!r}) by a call to ray.init outside seedcore",
            "let seedcore's connect() make the one connection, or call ray.shutdown() first",
        )


def session_in_process() -> RaySession | None:
    """The Ray connection this process holds, if any, without creating one (or importing ray)."""
    from seedcore_cli.ray_boundary import deadline

    if "ray" not in sys.modules or deadline.abandoned():
        return None  # (abandoned: a connect() is still blocked inside ray.init; Ray's state is not to be asked)
    from ray.util import client as ray_client

    owner = "seedcore" if _current is not None else "outside"
    contexts = ray_compat.client_contexts()
    client = ray_client.ray.is_connected()
    if not (client or ray_compat.driver_connected()):
        if contexts:  # only allow_multiple contexts: not the default one
            return RaySession(ConnectionMode.CLIENT, "", "Ray Client (allow_multiple context)", owner, contexts)
        return None
    if client:
        # Ask the Ray Client API itself: ray.get_runtime_context() follows a thread-local hook
        # and can answer from a stale local driver state instead.
        namespace = ray_client.ray.get_runtime_context().namespace
        return RaySession(ConnectionMode.CLIENT, namespace, f"ray://{ray_compat.client_target()}", owner, contexts)
    import ray

    context = ray.get_runtime_context()
    try:
        address = context.gcs_address
    except Exception:
        address = "?"
    return RaySession(ConnectionMode.DRIVER, context.namespace, address, owner, contexts)


def resolve_target(settings: Settings, start_local: bool) -> tuple[ConnectionMode, str, bool]:
    """(mode, address for ray.init, whether the local cluster was started now)."""
    target: Target = settings.target
    source = settings.address.source if settings.address else "default"
    if target.kind == "gcs":
        return ConnectionMode.DRIVER, target.endpoint, False
    if target.kind == "client":
        return ConnectionMode.CLIENT, f"ray://{target.endpoint}", False
    if target.kind in ("default", "local"):
        cluster = local_cluster.running()
        if cluster is not None:
            return ConnectionMode.LOCAL, cluster.gcs_address, False
    stale = ""
    if target.kind in ("default", "auto"):
        recorded = recorded_cluster_address()
        # `auto` means that cluster, reachable or not (check_reachable says it is gone); with
        # nothing configured, a recorded cluster that no longer answers is just not there.
        if recorded and (target.kind == "auto" or probe.tcp_open(*split_address(recorded), PROBE_TIMEOUT_S)):
            return ConnectionMode.DRIVER, recorded, False
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
        return ConnectionMode.LOCAL, cluster.gcs_address, True
    what = "the seedcore local cluster is not running" if target.kind == "local" else (
        "no Ray address is configured and no Ray cluster runs on this machine" + stale
    )
    raise NoCluster(what, "run `seedcore cluster start`, or set RAY_ADDRESS (HOST:PORT or ray://HOST:10001)")


def _origin(settings: Settings, mode: ConnectionMode) -> tuple[str, bool]:
    """('from RAY_ADDRESS' / 'recorded in ...' / 'default', whether it is Ray's recorded cluster)."""
    recorded = settings.target.kind == "auto" or (settings.target.kind == "default" and mode == ConnectionMode.DRIVER)
    if recorded:
        return f"recorded in {ray_current_cluster_file()}", True
    return (f"from {settings.address.source}" if settings.address else "default"), False


def check_reachable(settings: Settings, mode: ConnectionMode, host: str, port: int,
                    tls_files: probe.TlsFiles | None = None) -> probe.Protocol:
    """preflight.check_reachable with the origin of this target (for diagnose and connect)."""
    origin, recorded = _origin(settings, mode)
    return preflight.check_reachable(mode, host, port, origin, recorded, tls_files)


def _import_ray(loopback: bool):
    """Import ray with the environment Ray reads at import (environment.prepare_ray_import); for
    a loopback target Ray must keep 127.0.0.1, or a driver hangs connecting to the GCS."""
    environment.prepare_ray_import(loopback)
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
