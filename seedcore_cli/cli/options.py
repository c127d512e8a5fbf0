"""Options several commands share: --namespace, --config, -o/--output. Never imports ray.

Their callbacks run once per invocation, while Typer parses the command line: a bad namespace or
organism config exits 2 there, before anything connects or creates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from seedcore_cli.cli.output import OutputFormat, OutputOption  # noqa: F401 - re-exported


def _check_namespace(ctx: typer.Context, param: typer.CallbackParam, value: Optional[str]) -> Optional[str]:
    if value is not None and not ctx.resilient_parsing:
        from seedcore_cli.settings import Sourced, validate_namespace

        validate_namespace(Sourced(value, "--namespace"))
    return value


_LOADED = "seedcore.organism_config"


def _load_config(ctx: typer.Context, param: typer.CallbackParam, value: Optional[Path]) -> Optional[Path]:
    """Read and validate the organism config once, while the flags are parsed (ConfigError: exit 2
    naming file, place and problem); the command takes it with loaded_config(ctx)."""
    if not ctx.resilient_parsing:
        from seedcore_cli.organism import config  # yaml only, no ray

        ctx.meta[_LOADED] = config.load(value)
    return value


def loaded_config(ctx: typer.Context):
    """The OrganismConfig the --config callback read (the packaged default without --config)."""
    return ctx.meta[_LOADED]


# On every command that connects (and on the root): `seedcore NS-using-command --namespace NS`
# and `seedcore --namespace NS command` are the same; two different values exit 2.
NamespaceOption = Annotated[Optional[str], typer.Option(
    "--namespace", callback=_check_namespace, show_default=False,
    help="Ray namespace (the same as `seedcore --namespace NS`). [env: SEEDCORE_NS, RAY_NAMESPACE; "
         "default: seedcore-dev]")]

# The callback reads the file; the command takes the result with loaded_config(ctx).
ConfigOption = Annotated[Optional[Path], typer.Option(
    "--config", envvar="SEEDCORE_ORGANISM_CONFIG", callback=_load_config, show_default=False,
    help="Organism config (YAML) (default: the packaged one, 3 organs).")]
