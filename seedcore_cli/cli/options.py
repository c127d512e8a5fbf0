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


def _load_config(ctx: typer.Context, param: typer.CallbackParam, value: Optional[Path]):  # -> OrganismConfig
    # (no return annotation: Typer evaluates callback annotations, and the config model stays unimported)
    """Read and validate the organism config once, while the flags are parsed: the command gets
    the loaded config, not the path (ConfigError: exit 2 naming file, place and problem)."""
    if ctx.resilient_parsing:
        return None
    from seedcore_cli.organism import config  # yaml only, no ray

    return config.load(value)


# On every command that connects (and on the root): `seedcore NS-using-command --namespace NS`
# and `seedcore --namespace NS command` are the same; two different values exit 2.
NamespaceOption = Annotated[Optional[str], typer.Option(
    "--namespace", callback=_check_namespace, show_default=False,
    help="Ray namespace (the same as `seedcore --namespace NS`). [env: SEEDCORE_NS, RAY_NAMESPACE; "
         "default: seedcore-dev]")]

# The command receives the loaded OrganismConfig (the packaged default when no file is given).
ConfigOption = Annotated[Optional[Path], typer.Option(
    "--config", envvar="SEEDCORE_ORGANISM_CONFIG", callback=_load_config, show_default=False,
    help="Organism config (YAML) (default: the packaged one, 3 organs).")]
