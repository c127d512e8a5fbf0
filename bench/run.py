"""The seedcore benchmark: one command, its own loopback Ray cluster, ratios measured in one run.

    python bench/run.py [--repeats 5] [--quick]

Starts seedcore's embedded cluster under bench/.work (its own state dir), runs each pair of
commands interleaved after a warm-up, and writes bench/results.md and bench/results.json
(medians, ratios, peak memory, budgets met or missed). Stops the cluster it started by its pid,
then runs the multi-node section (bench/multinode.py, which can also run alone) on a cluster of
its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness import Series, interleaved, run_once
from report import WORK, bench_env, row, to_markdown

from seedcore_cli.local.cluster import free_port

PY = sys.executable
SEEDCORE = [PY, "-m", "seedcore_cli"]
RAY = [str(Path(PY).parent / "ray")]


def _check(argv: list[str], env: dict[str, str], timeout: float = 600) -> str:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"bench setup failed: {' '.join(argv)}\n{result.stderr}")
    return result.stdout


def _config(path: Path, agents_per_organ: int) -> Path:
    organs = [("cognitive_organ_1", "Cognitive"), ("actuator_organ_1", "Actuator"), ("utility_organ_1", "Utility")]
    lines = ["seedcore:", "  organism:", "    organ_types:"]
    for organ_id, kind in organs:
        lines += [f"      - id: {organ_id}", f"        type: {kind}", f"        description: bench {kind}",
                  f"        agent_count: {agents_per_organ}", "        task_types: [general_query]"]
    path.write_text("\n".join(lines) + "\n")
    return path


def bench_rendering(rows_count: int = 5000) -> list[dict]:
    """Render 5,000 actor rows as the table and as JSON, in process (the pure renderers)."""
    import statistics

    from seedcore_cli.cli import actors
    from seedcore_cli.organism import inventory

    entries = [{"actor_id": uuid.uuid4().hex, "class_name": f"Class{i % 7}", "state": "ALIVE" if i % 5 else "DEAD",
                "name": f"agent_{i}", "ray_namespace": f"ns{i % 3}", "pid": 1000 + i, "node_id": uuid.uuid4().hex,
                "is_detached": True, "num_restarts": "0", "required_resources": {"CPU": 0},
                "death_cause": None} for i in range(rows_count)]
    results = []
    for label, fn in (("table", lambda rows: actors.render_text(rows)),
                      ("json", lambda rows: json.dumps(actors.json_rows(rows), sort_keys=True, indent=2, default=str))):
        times = []
        for _ in range(5):
            started = time.perf_counter()
            rows = sorted(inventory.rows_from_api(entries), key=inventory.sort_key)
            fn(rows)
            times.append(time.perf_counter() - started)
        results.append({"what": f"parse+sort+render {rows_count} rows ({label})",
                        "median_s": round(statistics.median(times), 4)})
    return results


def bench_lint() -> dict:
    """`seedcore lint` over Ray's own package (from this venv): files per second of one core's CPU
    time (budget >= 500), best of three."""

    from importlib.util import find_spec

    from seedcore_cli import lint

    root = str(Path(find_spec("ray").origin).parent)
    files = lint.run([root], jobs=1).checked
    best = min(_cpu_seconds(lambda: lint.run([root], jobs=1)) for _ in range(3))  # one process: its CPU is all
    rate = files / best
    return {"what": f"seedcore lint on Ray's own package ({files} files)", "files": files,
            "cpu_s": round(best, 2), "files_per_s": round(rate), "budget_files_per_s": 500, "met": rate >= 500}


def _cpu_seconds(work) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 repeats, skip the slow raw ray.init baseline")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    WORK.mkdir(exist_ok=True)
    env = bench_env()
    results: list[dict] = []
    report_load: list[dict] = []

    # 1. start-up cost, no cluster needed
    s = interleaved({"seedcore --help": SEEDCORE + ["--help"], "ray --help": RAY + ["--help"]}, env, repeats)
    results.append(row("help", s["seedcore --help"], s["ray --help"], 0.3,
                       note=f"seedcore median must also be < 0.3 s: {s['seedcore --help'].median_s < 0.3}"))

    cluster = json.loads(_check(SEEDCORE + ["cluster", "start", "-o", "json"], env))
    try:
        gcs, dashboard = cluster["gcs_address"], cluster["dashboard_url"]
        small, large = f"bench-{uuid.uuid4().hex[:6]}", f"bench-{uuid.uuid4().hex[:6]}"
        small_cfg, large_cfg = _config(WORK / "small.yaml", 1), _config(WORK / "large.yaml", 10)
        _check(SEEDCORE + ["--address", gcs, "--namespace", small, "bootstrap", "--config", str(small_cfg)], env)
        _check(SEEDCORE + ["--address", gcs, "--namespace", large, "bootstrap", "--config", str(large_cfg)], env)
        on = lambda ns: SEEDCORE + ["--address", gcs, "--namespace", ns]  # noqa: E731

        s = interleaved({"seedcore actors list": on(small) + ["actors", "list"],
                         "ray list actors": RAY + ["list", "actors", "--address", dashboard,
                                                   "--filter", f"ray_namespace={small}"]}, env, repeats)
        results.append(row("actors list", s["seedcore actors list"], s["ray list actors"], 1.2))
        actors_list = s["seedcore actors list"]

        s = interleaved({"seedcore organism status": on(small) + ["organism", "status", "--config", str(small_cfg)],
                         "hand-written script": [PY, str(HERE / "baseline_status.py"), gcs, small]}, env, repeats)
        results.append(row("organism status vs script", s["seedcore organism status"], s["hand-written script"]))

        s = interleaved({"status, 30 agents": on(large) + ["organism", "status", "--config", str(large_cfg)],
                         "status, 3 agents": on(small) + ["organism", "status", "--config", str(small_cfg)]}, env, repeats)
        results.append(row("organism status 30 vs 3 agents", s["status, 30 agents"], s["status, 3 agents"], 1.5))

        # bootstrap: a first run in a fresh namespace each time, against a re-run where all exists
        first = Series("bootstrap, first run")
        rerun = Series("bootstrap, re-run")
        for _ in range(repeats):
            ns = f"bench-{uuid.uuid4().hex[:6]}"
            first.samples.append(run_once(on(ns) + ["bootstrap", "--config", str(small_cfg)], env))
            rerun.samples.append(run_once(on(ns) + ["bootstrap", "--config", str(small_cfg)], env))
            _check(on(ns) + ["organism", "teardown", "--include-singletons", "--yes"], env)
        results.append(row("bootstrap first vs re-run", first, rerun))
        results.append(row("bootstrap re-run vs actors list", rerun, actors_list, 1.5))

        import load  # many commands at once, both modes

        report_load = load.run(SEEDCORE, {**env, "SEEDCORE_CONNECT_TIMEOUT": "120"}, gcs,
                               cluster["client_address"], small, str(small_cfg), waves=2 if args.quick else 3)

        import real_clusters  # token auth, TLS, another Ray version: heads of their own

        results += real_clusters.run(env, WORK, repeats, row, gcs, small_cfg)
    finally:
        _check(SEEDCORE + ["cluster", "stop"], env)

    import multinode  # a 0-CPU head and two worker nodes, once the single-node cluster is stopped

    results += multinode.run(env, WORK, repeats, row)

    # unreachable: seedcore's answer against a plain ray.init to the same closed port (one raw
    # sample each: Ray waits ~2 min on a GCS port and ~30 s on a ray:// port)
    closed = free_port()
    for label, address in (("GCS", f"127.0.0.1:{closed}"), ("ray://", f"ray://127.0.0.1:{closed}")):
        sc = interleaved({f"seedcore, closed {label} port": SEEDCORE + ["--address", address, "info"]},
                         env, repeats, warmup=0)[f"seedcore, closed {label} port"]
        raw = Series(f"plain ray.init, closed {label} port")
        if not args.quick:
            raw.samples.append(run_once([PY, "-c", f"import ray; ray.init({address!r})"], env, timeout=200))
            results.append(row(f"unreachable cluster ({label})", sc, raw,
                               note=f"budget: seedcore reports it (exit 3) in <= 5 s: "
                                    f"{sc.median_s <= 5 and sc.returncodes == [3]}"))

    rendering = bench_rendering()
    report_lint = bench_lint()
    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "repeats": repeats, "pairs": results, "rendering": rendering, "load": report_load, "lint": report_lint,
    }
    (HERE / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (HERE / "results.md").write_text(to_markdown(report))
    print(to_markdown(report))


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown-only"]:  # rewrite results.md from results.json
        (HERE / "results.md").write_text(to_markdown(json.loads((HERE / "results.json").read_text())))
    else:
        main()
