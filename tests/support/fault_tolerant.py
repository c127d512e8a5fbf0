"""A GCS fault-tolerant cluster on loopback, as KubeRay's `gcsFaultToleranceOptions` runs the
ha/ overlay of deploy/kubernetes: the overlay's own Redis container (ha/redis.yaml: its command and
script, under Debian's `redis-server`, with a password as the Secret would give it) on 127.0.0.1
holds the GCS's tables, the head (0 CPUs) is started as KubeRay starts it (`RAY_REDIS_ADDRESS`,
`REDIS_PASSWORD` and `ray start --redis-password`, `RAY_external_storage_namespace` from the
overlay), and one worker node carries the actors. `cluster.kill_head()` then
`cluster.restart_head()` is a head pod that dies and comes back: the worker reconnects within Ray's
60 s window and the detached actors on it are ALIVE again.

`ha_redis()` returns None when redis-server is not installed (the tests that need it skip;
.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from seedcore_cli.local.cluster import free_port
from support.multinode import MultiNodeCluster
from support.owned_process import stop_ray_start

LOOPBACK = "127.0.0.1"


HA = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "ha"


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int
    password: str

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def cli(self, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
        """redis-cli against this server, authenticated as the readiness probe is (REDISCLI_AUTH)
        with `password` (default: the server's; '' for none)."""
        env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
        if (self.password if password is None else password):
            env["REDISCLI_AUTH"] = self.password if password is None else password
        return subprocess.run([shutil.which("redis-cli") or "redis-cli", "-h", LOOPBACK, "-p", str(self.port), *args],
                              capture_output=True, text=True, env=env, timeout=10, check=False)

    def stop(self) -> None:
        stop_ray_start(self.process)  # SIGTERM by pid, SIGKILL to its own session if it lingers


def ha_redis_container() -> dict:
    """The Redis container of ha/redis.yaml's StatefulSet, as written (the ha/ kustomization does
    not patch it; tests/unit/test_kubernetes_manifests.py checks that)."""
    docs = [doc for doc in yaml.safe_load_all((HA / "redis.yaml").read_text()) if doc]
    (statefulset,) = [doc for doc in docs if doc["kind"] == "StatefulSet"]
    (container,) = [c for c in statefulset["spec"]["template"]["spec"]["containers"] if c["name"] == "redis"]
    return container


def ha_gcs_options() -> dict:
    """spec.gcsFaultToleranceOptions of the ha/ overlay's RayCluster patch."""
    return yaml.safe_load((HA / "raycluster-gcs-ft.yaml").read_text())["spec"]["gcsFaultToleranceOptions"]


def on_loopback(script: str, workdir: Path, port: int) -> str:
    """The container's script, run on this machine: its /config and /data in `workdir`, and Redis
    on 127.0.0.1:`port` only (command-line options after the config file override it; in the pod
    it listens on the pod's addresses, which a test here must not)."""
    for needed in ("> /config/redis.conf", "exec redis-server /config/redis.conf ", " --dir /data "):
        assert script.count(needed) == 1, f"ha/redis.yaml's script changed: no single {needed!r}"
    script = script.replace("/config/", f"{workdir}/config/").replace(" --dir /data ", f" --dir {workdir}/data ")
    lines = script.rstrip("\n").splitlines()
    assert lines[-1].lstrip().startswith("exec redis-server "), "the script ends by exec-ing redis-server"
    lines[-1] += f" --bind {LOOPBACK} --port {port}"
    return "\n".join(lines) + "\n"


def start_ha_redis_container(workdir: Path, password: str, port: int) -> subprocess.Popen:
    """Run ha/redis.yaml's container command here, with the Secret's password in REDIS_PASSWORD
    as Kubernetes sets it; its output goes to workdir/redis.log."""
    container = ha_redis_container()
    for sub in ("config", "data"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REDIS_PASSWORD": password}
    (script,) = container["args"]
    log = open(workdir / "redis.log", "w")
    return subprocess.Popen([*container["command"], on_loopback(script, workdir, port)], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, env=env, cwd=workdir, start_new_session=True)


def ha_redis(workdir: Path, password: str, timeout: float = 20.0) -> RedisServer | None:
    """ha/redis.yaml's Redis on 127.0.0.1, ready, or None if redis-server is missing."""
    if shutil.which("redis-server") is None:
        return None
    port = free_port()
    process = start_ha_redis_container(workdir, password, port)
    deadline = time.monotonic() + timeout
    server = RedisServer(process, port, password)
    while time.monotonic() < deadline:
        # Ready is what the readiness probe asks: an authenticated PING answered (a Redis still
        # loading its append-only file accepts connections but answers LOADING).
        if server.cli("ping").stdout.strip() == "PONG":
            return server
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {(workdir / 'redis.log').read_text()[-2000:]}")
        time.sleep(0.1)
    stop_ray_start(process)
    raise TimeoutError(f"redis-server did not listen on {LOOPBACK}:{port} within {timeout:g} s")


def fault_tolerant_cluster(workdir: Path, redis: RedisServer, workers: int = 1) -> MultiNodeCluster:
    """A started 0-CPU head backed by `redis` and `workers` worker nodes (2 CPUs each), the head
    configured as KubeRay configures it from the ha/ overlay's gcsFaultToleranceOptions."""
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = MultiNodeCluster(workdir, workers=workers, head_env={
        "RAY_REDIS_ADDRESS": redis.address,
        "REDIS_PASSWORD": redis.password,
        "RAY_external_storage_namespace": ha_gcs_options()["externalStorageNamespace"],
    }, head_extra=[f"--redis-password={redis.password}"])
    return cluster.start()
