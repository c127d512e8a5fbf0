"""The organism config: SeedCore's YAML, loaded and validated before anything is created.

Both formats (seedcore's `organ_types`, SeedCore's `organs`) and every option are described once,
for users, in docs/configuration.md; `schema` validates them. This module finds the file (the
argument, else SEEDCORE_ORGANISM_CONFIG, else the packaged default) and turns it into an
`OrganismConfig`.

Invariants: no ray import (the CLI validates a config while parsing flags, before connecting);
a bad file raises `ConfigError` (exit 2) naming the file, the place in the document with its line
and what is wrong, and counts the other problems in its hint; organ ids and agent names are valid
actor names, unique across the organism, and never collide with the singletons.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from seedcore_cli import paths as pathkind
from seedcore_cli.errors import ConfigError, quoted
from seedcore_cli.organism.model import KIND_AGENT, KIND_ORGAN, KIND_SINGLETON
from seedcore_cli.organism.names import SEEDCORE_NAMES, SINGLETONS
from seedcore_cli.organism.options import ActorOptions
from seedcore_cli.organism.schema import (  # noqa: F401 - re-exported: config is the public face
    DEFAULT_ORGAN_TYPE,
    MAX_AGENTS_PER_ORGAN,
    MAX_TOTAL_AGENTS,
    NAME_RE,
    ORGAN_TYPES,
    RESERVED_NAMES,
    ROLE_PROBS,
    AgentSpec,
    OrganSpec,
    Schema,
    agent_name,
    specialized_agent_name,
)
from seedcore_cli.organism.yamldoc import Validator, read

CONFIG_ENV = "SEEDCORE_ORGANISM_CONFIG"
DEFAULT_SOURCE = "built-in default config (seedcore_cli/config/defaults.yaml)"


@dataclass(frozen=True)
class OrganismConfig:
    organs: tuple[OrganSpec, ...]
    source: str = DEFAULT_SOURCE
    singleton_options: ActorOptions = field(default_factory=lambda: ActorOptions.builtin(KIND_SINGLETON))
    notes: tuple[str, ...] = ()

    def agents(self) -> tuple[AgentSpec, ...]:
        return tuple(agent for organ in self.organs for agent in organ.agents)

    def agent_names(self) -> tuple[str, ...]:
        return tuple(agent.name for agent in self.agents())

    def names(self) -> tuple[str, ...]:
        """Every organ and agent actor name this config expects (not the singletons)."""
        return tuple(organ.id for organ in self.organs) + self.agent_names()

    def options_by_name(self) -> dict[str, tuple[str, ActorOptions]]:
        """name -> (kind, options) for every actor the organism needs, singletons first."""
        found = {name: (KIND_SINGLETON, self.singleton_options) for name in SINGLETONS}
        found.update({organ.id: (KIND_ORGAN, organ.options) for organ in self.organs})
        found.update({agent.name: (KIND_AGENT, agent.options) for agent in self.agents()})
        return found


# --- loading ---------------------------------------------------------------------------------


def resolve_path(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: `path`, else $SEEDCORE_ORGANISM_CONFIG, else None (the default)."""
    environ = os.environ if environ is None else environ
    if path is not None and str(path) != "":
        return Path(path)
    env_value = environ.get(CONFIG_ENV, "")
    return Path(env_value) if env_value else None


def load(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> OrganismConfig:
    """Load and validate the organism config (see the module docstring for the lookup order)."""
    chosen = resolve_path(path, environ)
    if chosen is None:
        text = resources.files("seedcore_cli").joinpath("config/defaults.yaml").read_text("utf-8")
        return parse(text, DEFAULT_SOURCE, environ)
    found = pathkind.kind(chosen)  # a name too long makes Path.exists() raise
    if found != pathkind.FILE:
        raise ConfigError(f"organism config {quoted(str(chosen))} {pathkind.phrase(found)}",
                          f"give the path of an existing YAML file (or ${CONFIG_ENV})")
    try:
        text = chosen.read_text("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{chosen}: not UTF-8 text ({err.reason} at byte {err.start})",
                          "save the config as UTF-8 YAML") from None
    except OSError as err:
        raise ConfigError(f"cannot read organism config {quoted(str(chosen))}: {err.strerror or err}",
                          "check the path and its permissions") from None
    return parse(text, str(chosen), environ)


def seedcore_names(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """SeedCore's name globs plus the organ and agent names of the organism config (a bad config
    is reported where it is used; here the globs still apply)."""
    try:
        names = load(environ=environ).names()
    except ConfigError:
        names = ()
    return SEEDCORE_NAMES + tuple(name for name in names if name not in SEEDCORE_NAMES)


def parse(text: str, source: str = "<string>", environ: Mapping[str, str] | None = None) -> OrganismConfig:
    """Parse and validate YAML text; `source` names the file in error messages; `environ` (default
    os.environ) gives the actor options' environment variables."""
    schema = Schema(Validator(source), os.environ if environ is None else environ)
    parsed = schema.document(read(text, source))
    schema.v.raise_first()
    return OrganismConfig(organs=tuple(parsed.organs), source=source,
                          singleton_options=parsed.singleton_options, notes=tuple(parsed.notes))
