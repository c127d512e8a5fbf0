"""`seedcore diagnose`: name the cause of a Ray connection conflict.

One small function per check (diagnose/checks/), a registry (the order and what each check
needs), a runner (skips what depends on a failure, masks secrets). Plain dataclasses out; no
Typer or Rich here. Library use:

    from seedcore_cli.diagnose import diagnose
    report = diagnose(address="127.0.0.1:6379", namespace="seedcore-dev")
    report.verdict, report.exit_code, report.by_id("namespace").status
"""

from seedcore_cli.diagnose.context import Context, Inputs
from seedcore_cli.diagnose.model import FAIL, OK, SKIP, WARN, CheckResult, Report
from seedcore_cli.diagnose.runner import diagnose, run

__all__ = ["CheckResult", "Report", "Inputs", "Context", "run", "diagnose",
           "OK", "WARN", "FAIL", "SKIP"]
