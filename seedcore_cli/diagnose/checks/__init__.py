"""The diagnose checks, one module each; `all_checks()` imports them (each registers itself with
`registry.check` on import) and returns them in the registry's ORDER."""

from __future__ import annotations

from seedcore_cli.diagnose.registry import CHECKS, ORDER, Check


def all_checks() -> list[Check]:
    from seedcore_cli.diagnose.checks import (  # noqa: F401 - imported to register
        c01_configuration,
        c02_install,
        c03_address,
        c04_reachability,
        c05_connection,
        c06_versions,
        c07_namespace,
        c08_singletons,
        c09_organism,
        c10_security,
        c11_drivers,
    )

    checks = sorted(CHECKS, key=lambda c: ORDER.index(c.id))
    for position, c in enumerate(checks):
        late = [n for n in c.needs if n not in ORDER[:position]]
        if late:
            raise ValueError(f"check {c.id!r} needs {late}, which do not run before it")
    return checks
