"""What the root callback hands every subcommand on ctx.obj."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from seedcore_cli.cli.output import Consoles
from seedcore_cli.errors import CannotConnect, SeedcoreError

if TYPE_CHECKING:  # no ray-bound import at module level
    from seedcore_cli.connection import Connection
    from seedcore_cli.settings import Settings


@dataclass
class AppState:
    consoles: Consoles
    verbose: bool = False
    settings: "Settings | None" = None
    connection: "Connection | None" = None
    # diagnose only: why settings or connect() failed, instead of exiting.
    failure: SeedcoreError | None = field(default=None)

    def require_connection(self) -> "Connection":
        if self.connection is None:  # the root callback guarantees one; this guards misuse
            raise self.failure or CannotConnect("not connected to Ray", "run `seedcore diagnose`")
        return self.connection


def state(ctx: typer.Context) -> AppState:
    return ctx.find_root().obj
