"""`seedcore lint` against `python -m compileall -q -f -j 2` over the same tree (Ray's installed
package by default), the baseline issue 20 names: both parse every file on both cores; lint
also analyses, compileall also compiles and writes bytecode. Ratio = lint / compileall (goal
<= 1.0). Both run on a private copy of the tree, so compileall's -f rewrites no installed .pyc.

    python bench/lint_speed.py [TREE] [--runs 5]

Median of interleaved runs after a warm-up of each; the result goes to bench/lint_speed.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TREE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "ray"


def timed(command: list[str], env: dict[str, str]) -> float:
    """Wall time of a run that must succeed (a run that fails early would look fast)."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... exited {done.returncode}: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", nargs="?", type=Path, default=DEFAULT_TREE)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="lint-bench-") as scratch:
        tree = Path(scratch) / args.tree.name
        shutil.copytree(args.tree, tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=True)
        files = sum(1 for _ in tree.rglob("*.py"))
        lint = [sys.executable, "-m", "seedcore_cli", "lint", str(tree), "-o", "json", "--exit-zero",
                "--output-file", os.devnull]
        baseline = [sys.executable, "-m", "compileall", "-q", "-f", "-j", "2", str(tree)]
        timed(lint, env), timed(baseline, env)  # warm-up: the page cache, both ways
        lint_s, base_s = [], []
        for _ in range(args.runs):
            lint_s.append(timed(lint, env))
            base_s.append(timed(baseline, env))
    ratio = statistics.median(lint_s) / statistics.median(base_s)
    report = (
        f"# seedcore lint speed\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; tree: {args.tree} ({files} files); "
        f"median of {args.runs} interleaved runs after a warm-up.\n\n"
        "| command | median | min | max |\n|---|---|---|---|\n"
        f"| seedcore lint -o json | {statistics.median(lint_s):.2f} s | {min(lint_s):.2f} s | {max(lint_s):.2f} s |\n"
        f"| python -m compileall -q -f -j 2 | {statistics.median(base_s):.2f} s | {min(base_s):.2f} s | "
        f"{max(base_s):.2f} s |\n\n"
        f"Ratio lint / compileall: **{ratio:.2f}x** (goal <= 1.0x; best runs {min(lint_s) / min(base_s):.2f}x).\n")
    (ROOT / "bench" / "lint_speed.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
