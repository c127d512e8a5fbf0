"""The benchmark's shared ground: its work folder and environment, one result row (a pair of
series and their ratio against a budget), and the markdown report of results.json.

bench/run.py and bench/multinode.py both build on it (neither imports the other).
"""

from __future__ import annotations

import os
from pathlib import Path

from harness import Series

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"


def bench_env() -> dict[str, str]:
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", SEEDCORE_STATE_DIR=str(WORK / "state"),
               RAY_USAGE_STATS_ENABLED="0", COLUMNS="200")
    for key in ("RAY_ADDRESS", "SEEDCORE_NS", "RAY_NAMESPACE", "RAY_HOST", "RAY_PORT"):
        env.pop(key, None)
    return env


def row(name: str, a: Series, b: Series, budget: float | None = None, note: str = "") -> dict:
    ratio = a.median_s / b.median_s if b.median_s else float("inf")
    return {
        "pair": name, "a": a.label, "b": b.label,
        "a_median_s": round(a.median_s, 3), "b_median_s": round(b.median_s, 3),
        "ratio": round(ratio, 3), "budget_ratio": budget,
        # a budget counts only when both commands did their job (a fast failure meets nothing)
        "met": None if budget is None else (ratio <= budget and a.returncodes == [0] and b.returncodes == [0]),
        "a_peak_mib": round(a.peak_mib, 1), "b_peak_mib": round(b.peak_mib, 1),
        "a_exit": a.returncodes, "b_exit": b.returncodes, "samples": len(a.samples), "note": note,
    }


def to_markdown(report: dict) -> str:
    lines = [f"Benchmark of {report['date']} on {report['machine']}, median of {report['repeats']} interleaved runs after a warm-up.", "",
             "| pair | A | B | A median | B median | A/B | budget | met | peak MiB A / B |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["pairs"]:
        budget = f"<= {r['budget_ratio']}" if r["budget_ratio"] is not None else "-"
        met = {True: "yes", False: "**no**", None: "-"}[r["met"]]
        b_median = f"{r['b_median_s']:.3f} s" + (" (killed at the cap, still waiting)" if r["b_exit"] == [-9] else "")
        lines.append(f"| {r['pair']} | {r['a']} | {r['b']} | {r['a_median_s']:.3f} s | {b_median} | "
                     f"{r['ratio']:.3f} | {budget} | {met} | {r['a_peak_mib']:.0f} / {r['b_peak_mib']:.0f} |")
    notes = [f"- {r['pair']}: {r['note']}" for r in report["pairs"] if r["note"]]
    lines += ["", *notes, "", "| rendering | median |", "|---|---|"]
    lines += [f"| {r['what']} | {r['median_s'] * 1000:.1f} ms |" for r in report["rendering"]]
    if report.get("lint"):
        r = report["lint"]
        lines += ["", f"Lint: {r['what']}: {r['files_per_s']} files/s of one core's CPU ({r['cpu_s']} s; budget >= "
                      f"{r['budget_files_per_s']}: {'met' if r['met'] else '**missed**'})."]
    if report.get("load"):
        import load

        lines += ["", "Load: waves of N concurrent processes against one cluster (seedcore retries Ray Client's "
                      "transient server-start failures for up to 120 s).", "", *load.to_markdown(report["load"])]
    return "\n".join(lines) + "\n"


