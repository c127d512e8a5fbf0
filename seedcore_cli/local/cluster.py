"""seedcore's embedded Ray head: one loopback-only cluster this tool starts, records and stops.

`ray start --head --block` runs as our child in its own process session; SIGTERM to that one
process drains and stops every Ray process it started, so `stop` touches nothing else on the
machine (never Ray's own stop command, never a kill by process name). What was started is recorded in a JSON
state file in the state directory (local_state). Before signalling the recorded pid, `stop` checks
that it still is that head (its command line and start time): a pid the system gave to another
process since is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from seedcore_cli.errors import OperationFailed, SeedcoreError, quoted
from seedcore_cli.local import state as local_state
from seedcore_cli.local.state import AUTH_TOKEN, LOOPBACK, LocalCluster, state_dir, state_file
from seedcore_cli.ray_boundary import probe, state_api

TOKEN_FILE = "auth_token"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
KILL_WAIT_S = 5.0
# psutil derives a start time from boot time and clock ticks: the same process reads the same
# value to well under a second; another process on a reused pid started at another time.
SAME_START_S = 1.0
# identify()'s verdicts on a recorded pid
OURS, GONE, OTHER = "ours", "gone", "other"
# Ray's default worker port range; the client port must lie outside it.
_WORKER_PORTS = range(10002, 20000)


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


def identify(cluster: LocalCluster) -> tuple[str, str]:
    """Is the recorded pid still the head `start` launched? (OURS, ''), (GONE, ''), or (OTHER,
    what the pid is now): its command line must be that `ray start --head --block` (ports, temp
    dir) and, when recorded, its start time the head's."""
    try:
        process = psutil.Process(cluster.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            _reap(cluster.pid)
            return GONE, ""
        created, command = process.create_time(), process.cmdline()
    except psutil.NoSuchProcess:
        return GONE, ""
    except psutil.AccessDenied:
        return OTHER, "a process this user may not inspect"
    if cluster.create_time and abs(created - cluster.create_time) > SAME_START_S:
        return OTHER, f"a process started at {_when(created)}, not the head (started at {_when(cluster.create_time)})"
    if not is_head_command(command, cluster):
        return OTHER, quoted(" ".join(command), 60) if command else "a process without a command line"
    return OURS, ""


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def is_head_command(command: list[str], cluster: LocalCluster) -> bool:
    """`command` is `ray start --head --block` with the cluster's ports and temp dir (start()'s)."""
    at = next((i for i, arg in enumerate(command[:-1]) if Path(arg).name == "ray" and command[i + 1] == "start"), None)
    wanted = {"--head", "--block", f"--port={cluster.gcs_port}", f"--ray-client-server-port={cluster.client_port}",
              f"--dashboard-port={cluster.dashboard_port}", f"--temp-dir={cluster.temp_dir}"}
    return at is not None and wanted <= set(command[at + 2:])


def _reap(pid: int) -> bool:
    """Collect `pid` if it is an exited child of this process (tests start and stop in one)."""
    with contextlib.suppress(ChildProcessError):
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    return False


def _gone(pid: int) -> bool:
    if _reap(pid):
        return True
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def status() -> LocalClusterStatus:
    cluster = local_state.read()
    if cluster is None:
        return LocalClusterStatus(False, None, str(state_file()))
    alive = identify(cluster)[0] == OURS and probe.tcp_open(LOOPBACK, cluster.gcs_port, 1.0)
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


def start(num_cpus: int | None = None, auth: str | None = None) -> tuple[LocalCluster, bool]:
    """Start the local cluster unless it runs. Returns (cluster, started_now).

    auth: AUTH_TOKEN for token authentication (a fresh token, mode 0600, in the state dir); ''
    for none (said explicitly to Ray, which would otherwise turn it on whenever it finds a token);
    None: no preference (none when starting; whatever runs is fine). A running cluster whose
    authentication differs from an explicit preference is an error, not silently kept.
    """
    with local_state.lock():  # the choice of ports, the start and the record: one at a time
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
        temp_dir = local_state.temp_dir()
        log_file = state_dir() / "local-cluster.log"
        command = head_command(_ray_executable(), gcs_port, client_port, dashboard_port,
                               num_cpus=num_cpus, extra=[f"--temp-dir={temp_dir}"])
        env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="disabled")
        for inherited in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
            env.pop(inherited, None)
        with local_state.writable():
            if auth == AUTH_TOKEN:
                env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(_write_fresh_token()))
            log = open(log_file, "w")
        with log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )
        cluster = LocalCluster(
            pid=process.pid, gcs_port=gcs_port, client_port=client_port,
            dashboard_port=dashboard_port, temp_dir=temp_dir, log_file=str(log_file),
            started_at=time.time(), auth=auth, create_time=_create_time(process.pid),
        )
        try:
            _wait_ready(process, cluster)
            local_state.write(cluster)
        except BaseException:  # not ready, no record, or Ctrl-C: leave nothing running that no record names
            with contextlib.suppress(OperationFailed):  # the first error is the one to report
                _terminate(process.pid)
            raise
        return cluster, True


def _create_time(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:  # exited at once: _wait_ready reports why
        return 0.0


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
    """SIGTERM the `ray start --block` process; it stops every Ray process it started. One that
    outlives the grace period gets SIGKILL (its own process group: we made it, pgid == pid).
    OperationFailed naming the pid when it cannot be signalled or does not go."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        raise OperationFailed(f"not allowed to signal the local cluster's head (pid {pid}); its record is kept",
                              "run `seedcore cluster stop` as the user who started the cluster") from None
    if _wait_gone(pid, STOP_TIMEOUT_S):
        return
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill()
    if not _wait_gone(pid, KILL_WAIT_S):
        raise OperationFailed(
            f"the local cluster's head (pid {pid}) still runs after SIGTERM, {STOP_TIMEOUT_S:g} s and SIGKILL; "
            "its record is kept", f"see `ps -o pid,stat,cmd -p {pid}` (a process stuck in the kernel "
            "cannot be killed), then run `seedcore cluster stop` again")


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not _gone(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


@dataclass(frozen=True)
class Stopped:
    """What `stop` found and did: outcome OURS (signalled, gone), GONE (the head had exited),
    OTHER (the pid is another process now: not signalled; `detail` says what it is), or '' when
    nothing was recorded. The record is forgotten in every case but a failed stop."""

    cluster: LocalCluster | None
    outcome: str = ""
    detail: str = ""


def stop() -> Stopped:
    """Stop the recorded local cluster by its pid, if the pid still is its head, and forget it."""
    if local_state.read() is None:
        return Stopped(None)  # and no state directory or lock file made for nothing
    with local_state.lock():
        cluster = local_state.read()  # again: another stop may have come first
        if cluster is None:
            return Stopped(None)
        outcome, detail = identify(cluster)
        if outcome == OURS:
            _terminate(cluster.pid)
        local_state.forget()
        return Stopped(cluster, outcome, detail)
