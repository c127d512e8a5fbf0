"""Timing primitives for bench/run.py: run a command, measure wall time and peak memory.

Each measured command runs as a direct child and is reaped with os.wait4, whose rusage is that
one child's own: ru_maxrss is its peak resident memory (KiB on Linux).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field


@dataclass
class Sample:
    seconds: float
    peak_mib: float
    returncode: int


@dataclass
class Series:
    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def peak_mib(self) -> float:
        return max(s.peak_mib for s in self.samples)

    @property
    def returncodes(self) -> list[int]:
        return sorted({s.returncode for s in self.samples})


def run_once(argv: list[str], env: dict[str, str], timeout: float = 300.0) -> Sample:
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL)
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Sample(elapsed, usage.ru_maxrss / 1024.0, process.returncode)


def interleaved(commands: dict[str, list[str]], env: dict[str, str], repeats: int, warmup: int = 1,
                timeout: float = 300.0) -> dict[str, Series]:
    """Run each command `warmup` times unmeasured, then `repeats` rounds A B A B ... measured."""
    for _ in range(warmup):
        for argv in commands.values():
            run_once(argv, env, timeout)
    series = {label: Series(label) for label in commands}
    for _ in range(repeats):
        for label, argv in commands.items():
            series[label].samples.append(run_once(argv, env, timeout))
    return series
