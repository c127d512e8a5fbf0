"""Bench section: many seedcore commands at once against one cluster.

For `organism status` and `actors list`, in driver and Ray Client mode, at concurrency 1, 4, 8
and 16: latency p50/p95 and success rate over `waves` waves of that many processes started
together. Budgets: 100% success at every level (within the connect retry budget), and in driver
mode p95 at 16 concurrent <= 4x the single-run median.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

LEVELS = (1, 4, 8, 16)


def _wave(argv: list[str], env: dict[str, str], count: int) -> list[tuple[float, int]]:
    """Start `count` copies at once; (seconds, exit code) of each."""
    def one(_):
        started = time.perf_counter()
        code = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL, timeout=600).returncode
        return time.perf_counter() - started, code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def run(seedcore: list[str], env: dict[str, str], gcs: str, client: str, namespace: str, config: str,
        waves: int = 2) -> list[dict]:
    commands = {"organism status": ["organism", "status", "--config", config, "--timeout", "30"],
                "actors list": ["actors", "list"]}
    rows = []
    for mode, address in (("driver", gcs), ("Ray Client", client)):
        for label, command in commands.items():
            argv = [*seedcore, "--address", address, "--namespace", namespace, *command]
            for level in LEVELS:
                samples = [s for _ in range(waves) for s in _wave(argv, env, level)]
                times = [seconds for seconds, _ in samples]
                ok = sum(1 for _, code in samples if code == 0)
                rows.append({"mode": mode, "command": label, "concurrency": level, "runs": len(samples),
                             "success": round(ok / len(samples), 3), "p50_s": round(statistics.median(times), 3),
                             "p95_s": round(_p95(times), 3)})
    for mode in ("driver", "Ray Client"):
        for label in commands:
            mine = [r for r in rows if r["mode"] == mode and r["command"] == label]
            single = mine[0]["p50_s"]
            for r in mine:
                r["p95_vs_single"] = round(r["p95_s"] / single, 2) if single else None
    return rows


def budgets(rows: list[dict]) -> dict[str, bool]:
    all_ok = all(r["success"] == 1.0 for r in rows)
    driver16 = [r for r in rows if r["mode"] == "driver" and r["concurrency"] == 16]
    return {"100% success at every level": all_ok,
            "driver p95 at 16 <= 4x single median": all(r["p95_vs_single"] <= 4 for r in driver16)}


def to_markdown(rows: list[dict]) -> list[str]:
    lines = ["| mode | command | concurrency | runs | success | p50 | p95 | p95 / single p50 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['command']} | {r['concurrency']} | {r['runs']} | {r['success']:.0%} | "
                     f"{r['p50_s']:.2f} s | {r['p95_s']:.2f} s | {r['p95_vs_single']} |")
    lines += [""] + [f"- budget, {name}: {'met' if met else '**missed**'}" for name, met in budgets(rows).items()]
    return lines
