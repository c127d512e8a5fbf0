"""The organism config: SeedCore's YAML, loaded and validated before anything is created.

Two formats are accepted. seedcore's own (`organ_types`), one entry per organ:

```yaml
seedcore:
  organism:
    defaults:                      # optional: options for every organ / agent / singleton
      organ:     {num_cpus: 0.01, max_restarts: -1}
      agent:     {num_cpus: 0.02, max_restarts: -1}
      singleton: {num_cpus: 0.01, max_restarts: -1}
    organ_types:
      - id: cognitive_organ_1
        type: Cognitive            # Cognitive | Actuator | Utility
        description: Reasoning and planning
        agent_count: 4             # agents cognitive_organ_1_agent_0 .. _3
        task_types: [general_query, planning]
        organ_options: {memory: 256MiB}
        agent_options: {num_cpus: 0.5, resources: {robot_arm: 1}, placement: spread, max_restarts: 3}
```

and SeedCore's (`organs`, as in SeedCore's config/organism.yaml), either under
`seedcore.organism` or at the top level of the file:

```yaml
seedcore:                          # or: organs / settings / defaults at the top level
  organism:
    settings: {...}                # SeedCore's; accepted and ignored (a note under -v)
    topology: {...}                # SeedCore's; accepted and ignored (a note under -v)
    organs:
      - id: utility_organ
        type: Utility              # optional, default Utility
        description: Utility and generalist agents
        organ_options: {...}       # optional, as above
        agent_options: {...}       # optional: every agent of the organ
        agents:
          - specialization: GENERALIST   # its role; agents utility_organ_generalist_0 ..
            count: 2                     # optional, default 1
            options: {num_cpus: 0.05}    # optional: only this entry's agents
            class: BaseAgent             # class, behaviors, behavior_config: SeedCore's own,
            behaviors: [background_loop] # type-checked, then ignored (a note under -v)
```

A file holds `organ_types` or `organs`, not both. Agents of an `organs` entry are named
`{organ_id}_{specialization}_{i}`, lower-cased, i from 0 for each entry, and carry their
specialization (their role); organ ids and agent names must be valid actor names, unique across
the organism (a clash names both places). The actor option keys, their precedence (an agents
entry's `options` > the organ's > `defaults` > SeedCore's environment variables > built-in) and
the environment variables are described in `organism.options`.

Public API (no ray import here; the CLI validates configs while parsing flags):

- `load(path=None, environ=None) -> OrganismConfig`: `path`, else `SEEDCORE_ORGANISM_CONFIG`, else
  the packaged default (`seedcore_cli/config/defaults.yaml`); `environ` (default os.environ) also
  gives the options' environment variables. Raises `ConfigError` (exit 2) naming the file, the
  place in the document (`seedcore.organism.organ_types[1].agent_count`, with its line) and what
  is wrong, or the environment variable; extra problems are counted in the hint.
- `parse(text, source, environ=None) -> OrganismConfig`: the same for a string.
- `OrganismConfig`: `.organs` (tuple of `OrganSpec`), `.singleton_options`, `.notes` (what was
  accepted and ignored), `.source`; `.agents()` (every `AgentSpec`), `.agent_names()`, `.names()`,
  `.options_by_name()` (name -> (kind, ActorOptions), singletons included).
- `seedcore_names(environ=None)`: what to look for when searching namespaces for SeedCore's
  actors: `names.SEEDCORE_NAMES` plus every organ and agent name of the config
  ($SEEDCORE_ORGANISM_CONFIG, else the default); a bad config leaves the globs only.
- `OrganSpec`: id, type, agents (tuple of `AgentSpec`), description, task_types, options;
  `.agent_count`, `.agent_ids`. `AgentSpec`: name, organ_id, specialization (None in the
  organ_types format), options. `ActorOptions`: see `organism.options`.
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
