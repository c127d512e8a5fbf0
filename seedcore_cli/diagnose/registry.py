"""The check registry: the order checks run and are shown in, and what each needs.

The checks themselves (diagnose/checks/, collected by `checks.all_checks()`) register here with
`@check`; this module imports none of them.
Each check is one small function Context -> CheckResult.

A check names the checks it needs; when one of those failed (or was skipped), the runner skips it
with the reason instead of calling it. The runner bounds every check's time (runner.check_bound),
on a daemon thread; `bounded=False` keeps a check on the caller's thread, for one that reads Ray's
thread-local state (which Ray Client context is current) and only asks the connection it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seedcore_cli.diagnose.context import Context
from seedcore_cli.diagnose.model import CheckResult


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    func: Callable[[Context], CheckResult]
    needs: tuple[str, ...] = ()
    bounded: bool = True


CHECKS: list[Check] = []
# Run and display order; a check may only need checks before it.
ORDER = ("configuration", "local_install", "address", "reachability", "connection", "versions",
         "namespace", "singletons", "organism", "dashboard_security", "drivers")


def check(id: str, title: str, needs: tuple[str, ...] = (), bounded: bool = True) -> Callable:
    """Register the decorated function as check `id`; ORDER decides where it runs."""

    def register(func: Callable[[Context], CheckResult]) -> Callable[[Context], CheckResult]:
        if any(existing.id == id for existing in CHECKS):
            raise ValueError(f"check {id!r} registered twice")
        CHECKS.append(Check(id, title, func, needs, bounded))
        return func

    return register
