"""8. singletons: miss_tracker, shared_cache, mw each exist once, ALIVE, detached, of the expected
class, answering ping within the timeout; missing ones point to `seedcore bootstrap`."""

from __future__ import annotations

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult, skip
from seedcore_cli.diagnose.registry import check

ID = "singletons"


@check(ID, "Singletons", needs=("connection",))
def singletons(ctx: Context) -> CheckResult:
    return skip(ID, "skipped: not implemented yet")
