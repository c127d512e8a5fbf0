"""A multi-node Ray cluster on loopback, as operators run one: a head with no CPUs (KubeRay's
advice: the head schedules nothing) and worker nodes with 2 CPUs each, every node its own
`ray start --block` process, in its own process session, from an environment that holds only Ray.

Used by tests/integration/test_multinode.py and bench/multinode.py. Removing a node is what losing one is:
SIGTERM to its `ray start --block` process, which stops its raylet and every worker on it (the
actors there die with them). Nothing here touches another Ray process on the machine: each
process is stopped by the pid we started.

- Two raylets on one IP: each worker gets its own `--temp-dir` (its session's unix sockets, which
  would otherwise collide: the second raylet dies with "bind: Address already in use") and its own
  dashboard-agent port (the default one is shared by every node on the host). Object manager,
  node manager and worker ports are picked free by Ray.
- Each worker also offers one unit of a resource named after it (`mn_worker_0`, ...): that is how
  a node id is matched to the process that runs it.
- A node is lost, not drained: RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S=0 (by default SIGTERM first
  drains the node for up to 30 s, waiting for actors that never leave), and the GCS health check
  is shortened (RAY_health_check_*) so a node that vanishes is declared dead within about 2 s.
- `remove()` returns once the GCS has the node DEAD *and* the dashboard's node summary no longer
  lists it ALIVE: that summary lags the GCS by a second or two, and seedcore's connect check probes
  every local raylet it lists (on loopback every raylet is local), so a command run in between
  would find the lost raylet silent and exit 3.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from seedcore_cli.local.cluster import free_port, head_command
from support import ray_envs
from support.owned_process import stop_ray_start

LOOPBACK = "127.0.0.1"
WORKER_LAUNCHER = Path(__file__).resolve().with_name("ray_worker_node.py")
ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
}


def worker_resource(index: int) -> str:
    return f"mn_worker_{index}"


@dataclass
class Node:
    name: str
    process: subprocess.Popen
    temp_dir: str
    node_id: str = ""
    removed: bool = False


@dataclass
class MultiNodeCluster:
    """`start()` the head (0 CPUs) and `workers` nodes of `worker_cpus` CPUs; `remove(i)`; `stop()`."""

    workdir: Path
    workers: int = 2
    worker_cpus: int = 2
    worker_resources: dict[int, dict[str, float]] = field(default_factory=dict)  # extra, per worker
    ray_version: str | None = None
    head: Node | None = None
    nodes: list[Node] = field(default_factory=list)
    gcs_address: str = ""  # set by start(): 127.0.0.1:PORT
    client_address: str = ""  # ray://127.0.0.1:PORT
    dashboard_url: str = ""  # http://127.0.0.1:PORT
    head_env: dict[str, str] = field(default_factory=dict)  # the head's own extra environment (Redis for GCS FT)
    head_extra: list[str] = field(default_factory=list)  # more `ray start` options for the head (--redis-password)
    head_command: list[str] = field(default_factory=list)  # set by start(): restart_head() runs it again

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **ENV}
        for key in ("PYTHONPATH", "RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_USE_TLS"):
            env.pop(key, None)  # a Ray-only environment, a plain cluster
        return env

    def _spawn(self, name: str, command: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "a")
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**self._env(), **(extra_env or {})}, start_new_session=True,
                                cwd=tempfile.gettempdir())

    def start(self, timeout: float = 120.0) -> MultiNodeCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        taken: set[int] = set()
        gcs, client, dashboard = (free_port(taken=taken) for _ in range(3))
        self.gcs_address, self.client_address = f"{LOOPBACK}:{gcs}", f"ray://{LOOPBACK}:{client}"
        self.dashboard_url = f"http://{LOOPBACK}:{dashboard}"
        ray_bin = ray_envs.ray_bin(self.ray_version or ray_envs.installed_ray_version())
        head_temp = tempfile.mkdtemp(prefix="scmn-h", dir="/tmp")  # short: Ray's socket paths
        command = head_command(ray_bin, gcs, client, dashboard, num_cpus=0,
                               extra=[f"--temp-dir={head_temp}",
                                      f"--dashboard-agent-listen-port={free_port(taken=taken)}", *self.head_extra])
        self.head_command = command
        self.head = Node("head", self._spawn("head", command, self.head_env), head_temp)
        try:
            self._wait(lambda: self._alive_nodes() is not None, timeout, "the head's State API")
            python = str(Path(ray_bin).parent / "python")
            for index in range(self.workers):
                resources = {worker_resource(index): 1, **self.worker_resources.get(index, {})}
                temp = tempfile.mkdtemp(prefix=f"scmn-w{index}", dir="/tmp")
                command = [python, str(WORKER_LAUNCHER), "start", f"--address={self.gcs_address}", "--block",
                           f"--node-ip-address={LOOPBACK}", f"--num-cpus={self.worker_cpus}",
                           f"--resources={json.dumps(resources)}", f"--temp-dir={temp}",
                           f"--dashboard-agent-listen-port={free_port(taken=taken)}", "--disable-usage-stats"]
                self.nodes.append(Node(worker_resource(index), self._spawn(worker_resource(index), command), temp))
            self._wait(lambda: len(self._alive_nodes() or []) == 1 + self.workers, timeout, "every worker node")
            for row in self._alive_nodes() or []:
                found = [node for node in [self.head, *self.nodes] if node.name in (row.get("resources_total") or {})]
                (found[0] if found else self.head).node_id = row["node_id"]
        except BaseException:
            self.stop()
            raise
        return self

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            dead = [node.name for node in [self.head, *self.nodes]
                    if node and not node.removed and node.process.poll() is not None]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited while waiting for {what}: see {self.workdir}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not up within {timeout:g} s: see {self.workdir}")
            time.sleep(0.3)

    def state(self, endpoint: str, **params) -> list[dict]:
        """A State API list (`nodes`, `actors`, ...) with detail, straight over HTTP: no Ray driver
        in this process (a driver would die with the node its raylet runs on)."""
        query = urllib.parse.urlencode({"limit": 10000, "detail": "true", **params})
        with urllib.request.urlopen(f"{self.dashboard_url}/api/v0/{endpoint}?{query}", timeout=10) as answer:
            return json.load(answer)["data"]["result"]["result"]

    def _alive_nodes(self) -> list[dict] | None:
        try:
            return [row for row in self.state("nodes") if row["state"] == "ALIVE"]
        except OSError:
            return None

    def alive_node_ids(self) -> set[str]:
        return {row["node_id"] for row in self._alive_nodes() or []}

    def actors(self, namespace: str) -> list[dict]:
        return self.state("actors", filter_keys="ray_namespace", filter_predicates="=", filter_values=namespace)

    def remove(self, index: int, timeout: float = 60.0) -> str:
        """Lose worker `index`: SIGTERM its `ray start --block`; returns its node id once the GCS
        has it DEAD."""
        node = self.nodes[index]
        node.removed = True
        stop_ray_start(node.process)
        self._wait(lambda: node.node_id not in self.alive_node_ids() | self._summary_alive(), timeout,
                   f"{node.name} to be declared dead")
        return node.node_id

    def _summary_alive(self) -> set[str]:
        """Node ids the dashboard's node summary (what seedcore's connect check reads) has ALIVE."""
        with urllib.request.urlopen(f"{self.dashboard_url}/nodes?view=summary", timeout=10) as answer:
            summary = json.load(answer)["data"]["summary"]
        return {entry["raylet"]["nodeId"] for entry in summary if entry.get("raylet", {}).get("state") == "ALIVE"}

    def kill_head(self) -> None:
        """Lose the head as a crashed pod loses it: SIGKILL to its whole process group (the
        `ray start --block` we started, its GCS, raylet and dashboard), no draining."""
        assert self.head is not None
        os.killpg(self.head.process.pid, signal.SIGKILL)
        self.head.process.wait()

    def restart_head(self, timeout: float = 120.0) -> None:
        """Start the head again with the same ports and environment (with GCS fault tolerance,
        the same Redis and storage namespace). `ray start` refuses while the head's temp dir
        names a running cluster (the surviving workers' raylets still name that GCS): the
        record goes first."""
        assert self.head is not None and self.head_command
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.head.temp_dir, "ray_current_cluster"))
        self.head.process = self._spawn("head", self.head_command, self.head_env)
        self._wait(lambda: self._alive_nodes() is not None, timeout, "the restarted head's State API")

    def stop(self) -> None:
        for node in [*self.nodes, self.head]:
            if node is not None:
                stop_ray_start(node.process)
                shutil.rmtree(node.temp_dir, ignore_errors=True)

