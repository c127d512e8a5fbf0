"""A GCS fault-tolerant cluster on loopback, as KubeRay's `gcsFaultToleranceOptions` runs one: a
real `redis-server` (Debian's package) on 127.0.0.1 holds the GCS's tables, the head (0 CPUs) is
started with `RAY_REDIS_ADDRESS` and a unique `RAY_external_storage_namespace`, and one worker
node carries the actors. `cluster.kill_head()` then `cluster.restart_head()` is a head pod that
dies and comes back: the worker reconnects within Ray's 60 s window and the detached actors on it
are ALIVE again.

`redis_server()` returns None when redis-server is not installed (the tests that need it skip;
.ci/run installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from seedcore_cli.local.cluster import free_port
from support.multinode import MultiNodeCluster
from support.owned_process import stop_ray_start

LOOPBACK = "127.0.0.1"


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        stop_ray_start(self.process)  # SIGTERM by pid, SIGKILL to its own session if it lingers


def redis_server(workdir: Path, timeout: float = 20.0) -> RedisServer | None:
    """A throwaway Redis on 127.0.0.1 (no persistence), or None if redis-server is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = free_port()
    log = open(workdir / "redis.log", "w")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
                                "--protected-mode", "yes"],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.5).close()
            return RedisServer(process, port)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited: see {workdir / 'redis.log'}") from None
            time.sleep(0.1)
    process.kill()
    raise TimeoutError(f"redis-server did not listen on {LOOPBACK}:{port} within {timeout:g} s")


def fault_tolerant_cluster(workdir: Path, redis: RedisServer, workers: int = 1) -> MultiNodeCluster:
    """A started 0-CPU head backed by `redis` and `workers` worker nodes (2 CPUs each)."""
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = MultiNodeCluster(workdir, workers=workers, head_env={
        "RAY_REDIS_ADDRESS": redis.address,
        "RAY_external_storage_namespace": f"seedcore-test-{uuid.uuid4().hex[:8]}",
    })
    return cluster.start()
