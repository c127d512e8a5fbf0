"""9. organism: organs and agents as in `organism status`, summarised."""

from __future__ import annotations

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, skip
from seedcore_cli.diagnose.registry import check

ID = "organism"


@check(ID, "Organism", needs=("connection",))
def organism(ctx: Context) -> CheckResult:
    return skip(ID, "skipped: not implemented yet")
