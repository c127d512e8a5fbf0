"""Bench section for clusters as operators run them: token auth, TLS, another Ray version.

- organism status on a token-auth cluster against the same on a plain cluster (budget <= 1.1x);
- the time seedcore takes to each new connect error (exit 3): no token, a wrong token, TLS
  mismatches both ways, an untrusted certificate (budget <= 3 s; TLS <= 5 s), and a Ray version
  mismatch in driver and Ray Client mode (budget <= 5 s).

The heads run from Ray-only environments (tests/support/ray_envs.py) on loopback, each stopped by its pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from harness import Series, interleaved

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from support import ray_envs
from support.tls_certs import make_tls_files

from seedcore_cli.local import cluster as local_cluster
from seedcore_cli.local.cluster import free_port
from seedcore_cli.ray_boundary import probe

SEEDCORE = [sys.executable, "-m", "seedcore_cli"]


def _head(version: str, env: dict[str, str], extra_env: dict[str, str]) -> tuple[subprocess.Popen, dict]:
    ports = {name: free_port() for name in ("gcs", "client", "dashboard")}
    command = local_cluster.head_command(ray_envs.ray_bin(version), ports["gcs"], ports["client"],
                                         ports["dashboard"], num_cpus=2)
    process = subprocess.Popen(command, env={**env, "RAY_AUTH_MODE": "disabled", **extra_env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                               start_new_session=True, cwd=tempfile.gettempdir())
    deadline = time.monotonic() + 120
    while not (probe.tcp_open("127.0.0.1", ports["gcs"], 0.5) and probe.tcp_open("127.0.0.1", ports["client"], 0.5)):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: the Ray {version} head did not start")
        time.sleep(0.5)
    return process, ports


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _error_row(label: str, series: Series, budget_s: float) -> dict:
    met = series.median_s <= budget_s and series.returncodes == [3]
    return {"pair": f"connect error: {label}", "a": series.label, "b": "-", "a_median_s": round(series.median_s, 3),
            "b_median_s": 0.0, "ratio": 0.0, "budget_ratio": None, "met": None,
            "a_peak_mib": round(series.peak_mib, 1), "b_peak_mib": 0.0, "a_exit": series.returncodes, "b_exit": [],
            "samples": len(series.samples), "note": f"budget: exit 3 within {budget_s:g} s: {'yes' if met else 'NO'}",
            "budget_s": budget_s, "budget_s_met": met}


def run(env: dict[str, str], work: Path, repeats: int, row, plain_gcs: str, plain_config: Path) -> list[dict]:
    """Rows for bench/run.py. plain_gcs: the bench's plain cluster (its small namespace is made here)."""
    results: list[dict] = []
    here = ray_envs.installed_ray_version()
    other = "2.59.0" if here != "2.59.0" else "2.60.0"
    tls_env = make_tls_files(work / "tls")
    stranger = make_tls_files(work / "tls-stranger", "stranger")
    token_state = {**env, "SEEDCORE_STATE_DIR": str(work / "token-state")}
    started = json.loads(subprocess.run(SEEDCORE + ["cluster", "start", "--auth", "token", "-o", "json"],
                                        env=token_state, capture_output=True, text=True, check=True).stdout)
    heads = []
    try:
        heads.append(_head(here, env, tls_env))
        heads.append(_head(other, env, {}))
        (_, tls_ports), (_, old_ports) = heads
        token_gcs = started["gcs_address"]
        token_env = {**env, "RAY_AUTH_TOKEN_PATH": started["token_file"]}
        ns = f"bench-{uuid.uuid4().hex[:6]}"
        for gcs, run_env in ((plain_gcs, env), (token_gcs, token_env)):
            subprocess.run(SEEDCORE + ["--address", gcs, "--namespace", ns, "bootstrap", "--config", str(plain_config)],
                           env=run_env, check=True, capture_output=True)
        status = ["organism", "status", "--config", str(plain_config)]
        # one interleaved run: the token command names its token file through `env`
        token_status = ["env", f"RAY_AUTH_TOKEN_PATH={started['token_file']}", *SEEDCORE, "--address",
                        token_gcs, "--namespace", ns, *status]
        plain_status = ["env", *SEEDCORE, "--address", plain_gcs, "--namespace", ns, *status]
        s = interleaved({"status, token-auth cluster": token_status, "status, plain cluster": plain_status},
                        env, repeats)
        results.append(row("organism status token-auth vs plain", s["status, token-auth cluster"],
                           s["status, plain cluster"], 1.1))

        client_port = started["client_address"].rsplit(":", 1)[1]
        no_home = {"HOME": str(work / "empty-home")}
        cases = [
            ("no token (driver)", [*SEEDCORE, "--address", token_gcs, "info"], {**env, **no_home}, 3.0),
            ("no token (Ray Client)", [*SEEDCORE, "--address", f"ray://127.0.0.1:{client_port}", "info"],
             {**env, **no_home}, 3.0),
            ("wrong token (driver)", [*SEEDCORE, "--address", token_gcs, "info"],
             {**env, **no_home, "RAY_AUTH_TOKEN": uuid.uuid4().hex}, 3.0),
            ("plaintext against TLS", [*SEEDCORE, "--address", f"127.0.0.1:{tls_ports['gcs']}", "info"], env, 5.0),
            ("TLS against plaintext", [*SEEDCORE, "--address", plain_gcs, "info"], {**env, **tls_env}, 5.0),
            ("untrusted certificate", [*SEEDCORE, "--address", f"127.0.0.1:{tls_ports['gcs']}", "info"],
             {**env, **stranger}, 5.0),
            (f"Ray {other} cluster (driver)", [*SEEDCORE, "--address", f"127.0.0.1:{old_ports['gcs']}", "info"], env, 5.0),
            (f"Ray {other} cluster (Ray Client)",
             [*SEEDCORE, "--address", f"ray://127.0.0.1:{old_ports['client']}", "info"], env, 5.0),
        ]
        for label, argv, case_env, budget in cases:
            series = interleaved({label: argv}, case_env, repeats)[label]
            results.append(_error_row(label, series, budget))
        subprocess.run(SEEDCORE + ["--address", plain_gcs, "--namespace", ns, "organism", "teardown", "--yes",
                                   "--include-singletons"], env=env, capture_output=True)
    finally:
        for process, _ in heads:
            _stop(process)
        subprocess.run(SEEDCORE + ["cluster", "stop"], env=token_state, capture_output=True)
    return results
