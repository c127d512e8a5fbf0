"""A run: discover the files, scan them (on every core when there are many), analyse, filter.

The order is fixed: configuration and discovery first (bad input exits 2 before any file is
read); files are scanned independently (in worker processes when there are at least
PARALLEL_MIN of them: scanning is pure and its Facts pickle); the analysis sees all Facts at
once; then selection, per-file-ignores and `# noqa` drop findings. A bug met on one file is
an internal error of the run (exit 2), never a lost run: the other files are still reported.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from seedcore_cli.lint import config as configuration
from seedcore_cli.lint import files, scanner
from seedcore_cli.lint.analysis import CodeBase
from seedcore_cli.lint.config import Config
from seedcore_cli.lint.model import Finding, Report
from seedcore_cli.lint.rules import RULES, WARNING

PARALLEL_MIN = 200  # below this, starting workers costs more than it saves
_CHUNKS_PER_WORKER = 8


def run(paths: Iterable[str | Path], config: Config | None = None, jobs: int | None = None) -> Report:
    """Lint `paths` (files or directories) with `config` (default: the nearest pyproject's)."""
    started = time.monotonic()
    given = [Path(p) for p in paths]
    config = config or configuration.load(given)
    found = files.discover(given, config)
    tasks = [scanner.Task(s.path, s.names[-1] if s.names else Path(s.path).stem,
                          os.path.basename(s.path) == "__init__.py", config.target) for s in found.sources]
    facts = scan_all(tasks, jobs, [s.size for s in found.sources])
    sources = [replace(s, role=files.SCRIPT) if f.shebang and s.role == files.LIBRARY else s
               for s, f in zip(found.sources, facts)]
    report = Report(internal_errors=[f"{f.path}: {f.internal}" for f in facts if f.internal])
    findings = CodeBase(sources, facts, config.entry_points).findings()
    findings += [Finding(path, 1, 1, "SC000", WARNING, message, "exclude the file, or fix it")
                 for path, message in found.notes]
    report.findings = _kept(findings, config, sources, facts, report)
    unchecked = {f.path for f in findings if f.rule == "SC000"}
    report.checked = len(sources) - len(unchecked & {s.path for s in sources})
    report.not_checked = len(unchecked)
    report.seconds = time.monotonic() - started
    return report


def _kept(findings: list[Finding], config: Config, sources: list[files.Source], facts: list[scanner.Facts],
          report: Report) -> list[Finding]:
    chosen = config.rules
    ignored = {s.path: s.ignored for s in sources}
    noqa = {f.path: f.noqa for f in facts if f.noqa}
    kept = []
    for finding in findings:
        if finding.rule not in chosen or any(finding.rule.startswith("SC" if sel == "ALL" else sel)
                                             for sel in ignored.get(finding.path, ())):
            continue
        codes = noqa.get(finding.path, {}).get(finding.line, ())
        if codes is None or finding.rule in codes:
            report.suppressed += 1
            continue
        kept.append(finding)
    return sorted(kept, key=lambda f: f.order)


def scan_all(tasks: list[scanner.Task], jobs: int | None = None, sizes: list[int] | None = None) -> list[scanner.Facts]:
    """Every file's Facts, in order. The cyclic garbage collector is paused meanwhile (syntax
    trees hold no cycles; it would only re-walk millions of fresh nodes)."""
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    collecting = gc.isenabled()
    gc.disable()
    try:
        if workers > 1 and len(tasks) >= PARALLEL_MIN:
            try:
                return _in_pool(tasks, workers, sizes)
            except (OSError, BrokenProcessPool):
                pass  # no processes to be had here: do it in this one
        return scanner.scan_many(tasks)
    finally:
        if collecting:
            gc.enable()


def _in_pool(tasks: list[scanner.Task], workers: int, sizes: list[int] | None = None) -> list[scanner.Facts]:
    """`workers` processes share the files: the largest first, dealt round-robin into small
    chunks (the last chunks are small files, so no worker is left with a long one at the end)."""
    order = sorted(range(len(tasks)), key=lambda i: -(sizes[i] if sizes else 0))
    count = min(len(tasks), workers * _CHUNKS_PER_WORKER)
    deals = [order[k::count] for k in range(count)]
    method = "fork" if sys.platform.startswith("linux") else None
    found: list[scanner.Facts | None] = [None] * len(tasks)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=gc.disable) as pool:
        results = pool.map(scanner.scan_many, [[tasks[i] for i in deal] for deal in deals])
        for deal, chunk in zip(deals, results):
            for i, facts in zip(deal, chunk):
                found[i] = facts
    if any(facts is None for facts in found):
        raise RuntimeError("a worker returned fewer results than files")  # a bug: exit 2
    return [facts for facts in found if facts is not None]


def lint(paths: Iterable[str | Path], select: Iterable[str] | None = None,
         ignore: Iterable[str] = frozenset(), config: Config | None = None) -> list[Finding]:
    """The findings only (the library call tests and tools use); select/ignore take rule selectors."""
    given = [Path(p) for p in paths]
    base = config or configuration.load(given)
    if select:
        base = replace(base, select=list(select))
    if ignore:
        base = replace(base, ignore=base.ignore + list(ignore))
    return run(given, base).findings


__all__ = ["RULES", "lint", "run", "scan_all"]
