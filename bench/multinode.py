"""Bench section: the organism on a multi-node cluster (a 0-CPU head and two 2-CPU worker nodes on
loopback, every node its own `ray start --block` from a Ray-only environment: tests/support/multinode.py).

- bootstrap of 30 agents (36 actors) against a hand-written raw-Ray script that creates the same 36
  detached named actors with the same options, at once, and waits for them (bench/raw_bootstrap.py):
  budget <= 1.15x;
- bootstrap of 30 agents against bootstrap of 3 agents (9 actors): reported;
- `organism status` with 30 agents spread over both workers against 3 agents on one: budget <= 1.5x.

Every bootstrap sample runs in a fresh namespace, torn down after it (not timed). Run alone with

    python bench/multinode.py [--repeats 3]

which merges its rows into bench/results.json and rewrites bench/results.md; bench/run.py runs it
too, after its own cluster is stopped (one cluster at a time on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from harness import Series, interleaved, run_once
from report import WORK, bench_env, row, to_markdown
from support.multinode import MultiNodeCluster, worker_resource

SEEDCORE = [sys.executable, "-m", "seedcore_cli"]
RAW = [sys.executable, str(HERE / "raw_bootstrap.py")]
PREFIX = "multi-node"
ORGANS = 3


def _config(path: Path, per_organ: int, options: str = "") -> Path:
    lines = ["seedcore:", "  organism:", *(["    defaults:", *options.splitlines()] if options else []),
             "    organ_types:"]
    for index in range(ORGANS):
        lines += [f"      - id: organ_{index}", "        type: Utility", f"        agent_count: {per_organ}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _quiet(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"bench setup failed: {' '.join(argv)}\n{result.stderr[-2000:]}")


def run(env: dict[str, str], work: Path, repeats: int, row) -> list[dict]:
    cluster = MultiNodeCluster(work / "multinode").start()
    try:
        def on(namespace: str) -> list[str]:
            return SEEDCORE + ["--address", cluster.gcs_address, "--namespace", namespace]

        big, small = _config(work / "mn-30.yaml", 10), _config(work / "mn-3.yaml", 1)
        teardown = ["organism", "teardown", "--include-singletons", "--yes"]
        cases = {  # label -> (command for a namespace, its cleanup)
            "bootstrap, 30 agents": (lambda ns: on(ns) + ["bootstrap", "--config", str(big)],
                                     lambda ns: on(ns) + teardown),
            "raw Ray script, 36 actors": (lambda ns: RAW + [cluster.gcs_address, ns, str(ORGANS), "10"],
                                          lambda ns: RAW + [cluster.gcs_address, ns, "--kill"]),
            "bootstrap, 3 agents": (lambda ns: on(ns) + ["bootstrap", "--config", str(small)],
                                    lambda ns: on(ns) + teardown),
        }
        series = {label: Series(label) for label in cases}
        for round_ in range(1 + repeats):  # the first round warms up (worker processes, imports)
            for label, (command, cleanup) in cases.items():
                namespace = f"bench-{uuid.uuid4().hex[:6]}"
                sample = run_once(command(namespace), env, timeout=600)
                if round_:
                    series[label].samples.append(sample)
                _quiet(cleanup(namespace), env)
        results = [
            row(f"{PREFIX} bootstrap 30 agents vs raw Ray", series["bootstrap, 30 agents"],
                series["raw Ray script, 36 actors"], 1.15,
                note="36 actors each; seedcore also checks capacity, reads the State API (what died) and "
                     "registers agents with their organs"),
            row(f"{PREFIX} bootstrap 30 vs 3 agents", series["bootstrap, 30 agents"], series["bootstrap, 3 agents"],
                note="36 actors against 9: a worker process per actor on 2 nodes of 2 CPUs"),
        ]

        spread, single = f"bench-{uuid.uuid4().hex[:6]}", f"bench-{uuid.uuid4().hex[:6]}"
        spread_cfg = _config(work / "mn-30-spread.yaml", 10, "      agent: {placement: spread}")
        pinned = "{resources: {" + worker_resource(0) + ": 0.01}}"
        single_cfg = _config(work / "mn-3-one-node.yaml", 1, "\n".join(
            f"      {kind}: {pinned}" for kind in ("singleton", "organ", "agent")))
        _quiet(on(spread) + ["bootstrap", "--config", str(spread_cfg)], env)
        _quiet(on(single) + ["bootstrap", "--config", str(single_cfg)], env)
        nodes = {ns: sorted({actor["node_id"][:8] for actor in cluster.actors(ns) if actor["state"] == "ALIVE"})
                 for ns in (spread, single)}
        status = ["organism", "status", "--timeout", "30"]
        s = interleaved({"status, 30 agents on 2 nodes": on(spread) + [*status, "--config", str(spread_cfg)],
                         "status, 3 agents on 1 node": on(single) + [*status, "--config", str(single_cfg)]},
                        env, repeats)
        results.append(row(f"{PREFIX} status 30 agents on 2 nodes vs 3 on 1", s["status, 30 agents on 2 nodes"],
                           s["status, 3 agents on 1 node"], 1.5,
                           note=f"nodes holding the actors: {len(nodes[spread])} and {len(nodes[single])}"))
        for namespace in (spread, single):
            _quiet(on(namespace) + teardown, env)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        for result in results:
            result["note"] += f" (median of {repeats} after a warm-up; run of {stamp})"
        return results
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    rows = run(bench_env(), WORK, args.repeats, row)
    results = HERE / "results.json"
    report = json.loads(results.read_text())
    report["pairs"] = [r for r in report["pairs"] if not r["pair"].startswith(PREFIX)] + rows
    results.write_text(json.dumps(report, indent=2) + "\n")
    (HERE / "results.md").write_text(to_markdown(report))
    print(to_markdown(report))


if __name__ == "__main__":
    main()
