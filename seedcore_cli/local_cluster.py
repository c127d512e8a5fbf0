"""seedcore's embedded Ray head: one loopback-only cluster this tool starts, records and stops.

`ray start --head --block` runs as our child in its own process session; SIGTERM to that one
process drains and stops every Ray process it started, so `stop` touches nothing else on the
machine (never Ray's own stop command, never a kill by process name). What was started is recorded in a JSON
state file in the state directory (SEEDCORE_STATE_DIR, default ~/.seedcore).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from seedcore_cli import probe, state_api
from seedcore_cli.errors import BadInput, OperationFailed, SeedcoreError

LOOPBACK = "127.0.0.1"
AUTH_TOKEN = "token"
TOKEN_FILE = "auth_token"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
# Ray's default worker port range; the client port must lie outside it.
_WORKER_PORTS = range(10002, 20000)


def state_dir() -> Path:
    configured = os.environ.get("SEEDCORE_STATE_DIR")
    path = Path(configured or Path.home() / ".seedcore")
    if path.exists() and not path.is_dir():
        origin = "from SEEDCORE_STATE_DIR" if configured else "the default"
        raise BadInput(f"state directory {str(path)!r} ({origin}) is not a directory",
                       "point SEEDCORE_STATE_DIR at a directory")
    return path


def state_file() -> Path:
    return state_dir() / "local-cluster.json"


def token_file_for(host: str, port: int) -> Path | None:
    """The token file of seedcore's running local cluster when it was started with token authentication
    and (host, port) is its GCS or Ray Client port; else None."""
    if host not in (LOOPBACK, "localhost"):
        return None
    try:
        cluster = running()
    except SeedcoreError:  # an unreadable state file: not ours to judge here
        return None
    if cluster is None or cluster.auth != AUTH_TOKEN:
        return None
    return state_dir() / TOKEN_FILE if port in (cluster.gcs_port, cluster.client_port) else None


@dataclass(frozen=True)
class LocalCluster:
    """What `cluster start` launched: enough to find it, connect to it and stop it."""

    pid: int
    gcs_port: int
    client_port: int
    dashboard_port: int
    temp_dir: str
    log_file: str
    started_at: float
    auth: str = ""  # "token" when started with token authentication (its token: token_file())

    @property
    def gcs_address(self) -> str:
        return f"{LOOPBACK}:{self.gcs_port}"

    @property
    def client_address(self) -> str:
        return f"ray://{LOOPBACK}:{self.client_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{LOOPBACK}:{self.dashboard_port}"

    @property
    def session_dir(self) -> str:
        latest = Path(self.temp_dir) / "session_latest"
        return str(latest.resolve()) if latest.exists() else ""


@dataclass(frozen=True)
class LocalClusterStatus:
    running: bool
    cluster: LocalCluster | None
    state_file: str
    stale: bool = False  # a state file whose process is gone

    def to_dict(self) -> dict:
        data = {"running": self.running, "stale": self.stale, "state_file": self.state_file}
        if self.cluster:
            data.update(asdict(self.cluster))
            data.update(
                gcs_address=self.cluster.gcs_address,
                client_address=self.cluster.client_address,
                dashboard_url=self.cluster.dashboard_url,
                session_dir=self.cluster.session_dir,
                auth=self.cluster.auth or "none",
            )
            if self.cluster.auth == AUTH_TOKEN:
                token = state_dir() / TOKEN_FILE
                data.update(token_file=str(token),
                            other_services=f"export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={token}")
        return data


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); reap it if it is one.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _is_our_head(cluster: LocalCluster) -> bool:
    """The recorded pid is alive and still our `ray start` (not a reused pid)."""
    if not _pid_alive(cluster.pid):
        return False
    try:
        cmdline = Path(f"/proc/{cluster.pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True  # no /proc: trust the pid
    return cluster.temp_dir in cmdline


def _read_state() -> LocalCluster | None:
    try:
        return LocalCluster(**json.loads(state_file().read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as err:
        raise OperationFailed(
            f"local cluster state file {state_file()} is unreadable: {err}",
            "remove it if no seedcore cluster runs, then run `seedcore cluster start`",
        ) from err


def status() -> LocalClusterStatus:
    cluster = _read_state()
    if cluster is None:
        return LocalClusterStatus(False, None, str(state_file()))
    alive = _is_our_head(cluster) and probe.tcp_open(LOOPBACK, cluster.gcs_port, 1.0)
    return LocalClusterStatus(alive, cluster, str(state_file()), stale=not alive)


def running() -> LocalCluster | None:
    """The seedcore local cluster if it runs, else None."""
    current = status()
    return current.cluster if current.running else None


def free_port(preferred: int = 0, taken: set[int] | None = None) -> int:
    """`preferred` if free on loopback, else any free port outside Ray's worker range (a custom
    Ray Client port there makes `ray start` refuse); not one in `taken`, which it joins."""
    taken = set() if taken is None else taken
    candidates = ([preferred] if preferred else []) + [0] * 20
    for candidate in candidates:
        with socket.socket() as sock:
            try:
                sock.bind((LOOPBACK, candidate))
            except OSError:
                continue
            port = sock.getsockname()[1]
        if port not in taken and port not in _WORKER_PORTS:
            taken.add(port)
            return port
    raise OperationFailed("no free loopback port for a Ray head", "free some ports and retry")


def _ray_executable() -> str:
    beside = Path(sys.executable).parent / "ray"
    found = str(beside) if beside.exists() else shutil.which("ray")
    if not found:
        raise OperationFailed("the `ray` command is not installed", "pip install 'ray[default]'")
    return found


def head_command(ray_executable: str, gcs_port: int, client_port: int, dashboard_port: int,
                 num_cpus: int | None = None, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """`ray start --head --block` with every port on 127.0.0.1 (the tests' heads use it too)."""
    command = [
        ray_executable, "start", "--head", "--block",
        f"--node-ip-address={LOOPBACK}", f"--dashboard-host={LOOPBACK}",
        f"--port={gcs_port}", f"--ray-client-server-port={client_port}",
        f"--dashboard-port={dashboard_port}", "--disable-usage-stats", *extra,
    ]
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    return command


def _temp_dir() -> str:
    # Ray's unix sockets live under the temp dir and their paths must stay short (< 108 bytes),
    # so use a short per-state-dir folder under /tmp rather than the state dir itself.
    tag = hashlib.sha1(str(state_dir().resolve()).encode()).hexdigest()[:8]
    return str(Path(tempfile.gettempdir()) / f"seedcore-{os.getuid()}-{tag}")


@contextlib.contextmanager
def _lock():
    """Serialise start/stop across processes (three concurrent bootstraps start one cluster)."""
    state_dir().mkdir(parents=True, exist_ok=True)
    with open(state_dir() / "local-cluster.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start(num_cpus: int | None = None, auth: str | None = None) -> tuple[LocalCluster, bool]:
    """Start the local cluster unless it runs. Returns (cluster, started_now).

    auth: AUTH_TOKEN for token authentication (a fresh token, mode 0600, in the state dir); ''
    for none (said explicitly to Ray, which would otherwise turn it on whenever it finds a token);
    None: no preference (none when starting; whatever runs is fine). A running cluster whose
    authentication differs from an explicit preference is an error, not silently kept.
    """
    with _lock():
        existing = running()
        if existing:
            if auth is not None and existing.auth != auth:
                has = "token authentication" if existing.auth == AUTH_TOKEN else "no authentication"
                raise OperationFailed(
                    f"the local cluster already runs with {has} (pid {existing.pid})",
                    "stop it with `seedcore cluster stop`, then start it again with the authentication you want",
                )
            return existing, False
        auth = auth or ""
        taken: set[int] = set()
        gcs_port = free_port(6379, taken)
        client_port = free_port(10001, taken)
        dashboard_port = free_port(8265, taken)
        temp_dir = _temp_dir()
        log_file = state_dir() / "local-cluster.log"
        command = head_command(_ray_executable(), gcs_port, client_port, dashboard_port,
                               num_cpus=num_cpus, extra=[f"--temp-dir={temp_dir}"])
        env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="disabled")
        for inherited in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
            env.pop(inherited, None)
        if auth == AUTH_TOKEN:
            env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(_write_fresh_token()))
        with open(log_file, "w") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )
        cluster = LocalCluster(
            pid=process.pid, gcs_port=gcs_port, client_port=client_port,
            dashboard_port=dashboard_port, temp_dir=temp_dir, log_file=str(log_file),
            started_at=time.time(), auth=auth,
        )
        try:
            _wait_ready(process, cluster)
        except BaseException:  # not ready, or Ctrl-C: leave nothing running that no record names
            _terminate(process.pid)
            raise
        tmp = state_file().with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(cluster), indent=2))
        tmp.replace(state_file())
        return cluster, True


def _write_fresh_token() -> Path:
    """A new random token, readable by this user only; Ray accepts any opaque string."""
    path = state_dir() / TOKEN_FILE
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path


def _wait_ready(process: subprocess.Popen, cluster: LocalCluster) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = Path(cluster.log_file).read_text(errors="replace").strip().splitlines()[-3:]
            raise OperationFailed(
                f"`ray start` exited with code {process.returncode}: {' / '.join(tail)}",
                f"see {cluster.log_file}",
            )
        ready = (
            probe.tcp_open(LOOPBACK, cluster.gcs_port, 0.5)
            and probe.tcp_open(LOOPBACK, cluster.client_port, 0.5)
            # an endpoint that needs no token: a token-auth head answers it too
            and bool(state_api.authentication_mode(cluster.dashboard_url, 1.0))
        )
        if ready:
            return
        time.sleep(0.3)
    raise OperationFailed(
        f"the local cluster did not become ready within {START_TIMEOUT_S:.0f} s",
        f"see {cluster.log_file}",
    )


def _terminate(pid: int) -> None:
    """SIGTERM the `ray start --block` process; it stops every Ray process it started."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.2)
    # Still draining after the grace period: end our own process group (we made it, pgid == pid).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def stop() -> tuple[LocalCluster | None, bool]:
    """Stop the recorded local cluster by its pid and forget it.

    Returns (the recorded cluster or None, whether it was running and got stopped).
    """
    with _lock():
        cluster = _read_state()
        if cluster is None:
            return None, False
        running_now = _is_our_head(cluster)
        if running_now:
            _terminate(cluster.pid)
        state_file().unlink(missing_ok=True)
        return cluster, running_now
