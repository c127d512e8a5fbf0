"""The organism config: SeedCore's YAML schema, loaded and validated before anything is created.

```yaml
seedcore:
  organism:
    organ_types:
      - id: cognitive_organ_1
        type: Cognitive          # Cognitive | Actuator | Utility
        description: Reasoning and planning
        agent_count: 1
        task_types: [general_query, planning]
```

Public API (no ray import here; the CLI validates configs while parsing flags):

- `load(path=None, environ=None) -> OrganismConfig`: `path`, else `SEEDCORE_ORGANISM_CONFIG`, else
  the packaged default (`seedcore_cli/config/defaults.yaml`). Raises `ConfigError` (exit 2) naming
  the file, the place in the document (`seedcore.organism.organ_types[1].agent_count`, with its
  line) and what is wrong; extra problems are counted in the hint.
- `parse(text, source) -> OrganismConfig`: the same for a string.
- `OrganismConfig.organs` (tuple of `OrganSpec`), `.agent_names()`, `.names()`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from seedcore_cli import pathkind
from seedcore_cli.errors import ConfigError, bare, fold, quoted
from seedcore_cli.names import SINGLETONS

CONFIG_ENV = "SEEDCORE_ORGANISM_CONFIG"
DEFAULT_SOURCE = "built-in default config (seedcore_cli/config/defaults.yaml)"

ORGAN_TYPES = ("Cognitive", "Actuator", "Utility")
# Role probabilities (Explorer, Specialist, Optimizer) of a new agent, by its organ's type.
ROLE_PROBS: dict[str, dict[str, float]] = {
    "Cognitive": {"E": 0.3, "S": 0.6, "O": 0.1},
    "Actuator": {"E": 0.7, "S": 0.2, "O": 0.1},
    "Utility": {"E": 0.2, "S": 0.3, "O": 0.5},
}
MAX_AGENTS_PER_ORGAN = 100
MAX_TOTAL_AGENTS = 500
# Names Ray accepts and that stay readable in tables and shells.
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
# The singleton actors' names: no organ or agent may take them.
RESERVED_NAMES = tuple(SINGLETONS)

_ORGAN_KEYS = ("id", "type", "description", "agent_count", "task_types")
_ORGAN_REQUIRED = ("id", "type", "agent_count")


def agent_name(organ_id: str, index: int) -> str:
    """SeedCore's agent naming: `{organ_id}_agent_{i}`, i from 0."""
    return f"{organ_id}_agent_{index}"


@dataclass(frozen=True)
class OrganSpec:
    id: str
    type: str
    agent_count: int
    description: str = ""
    task_types: tuple[str, ...] = ()

    @property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(agent_name(self.id, i) for i in range(self.agent_count))


@dataclass(frozen=True)
class OrganismConfig:
    organs: tuple[OrganSpec, ...]
    source: str = DEFAULT_SOURCE

    def agent_names(self) -> tuple[str, ...]:
        return tuple(name for organ in self.organs for name in organ.agent_ids)

    def names(self) -> tuple[str, ...]:
        """Every organ and agent actor name this config expects (not the singletons)."""
        return tuple(organ.id for organ in self.organs) + self.agent_names()


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
        return parse(text, DEFAULT_SOURCE)
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
    return parse(text, str(chosen))


def parse(text: str, source: str = "<string>") -> OrganismConfig:
    """Parse and validate YAML text; `source` names the file in error messages."""
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as dup:
        raise ConfigError(f"{source}: line {dup.line}: duplicate key {quoted(dup.key)}",
                          "each key may appear once per mapping") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: YAML syntax error{_where(err)}: {_yaml_problem(err)}",
                          "fix the YAML syntax (indentation, colons, quotes)") from None
    except RecursionError:  # PyYAML recurses once per nesting level
        raise ConfigError(f"{source}: the YAML is nested too deeply to load",
                          "an organism config is a few levels deep; fix the file") from None
    except ValueError as err:  # a YAML integer of more than 4300 digits, which Python refuses
        raise ConfigError(f"{source}: a value cannot be loaded ({fold(str(err), 80)})",
                          "fix the value in the file") from None
    validator = _Validator(source)
    organs = validator.document(document)
    if validator.problems:
        first, *rest = validator.problems
        hint = (f"{len(rest)} more problem(s) in the same file" if rest
                else "see the organism config schema in the README")
        raise ConfigError(first, hint)
    return OrganismConfig(organs=tuple(organs), source=source)


def _where(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _yaml_problem(err: yaml.YAMLError) -> str:
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    text = ", ".join(part for part in parts if part)
    return text or str(err).splitlines()[0]


# --- a SafeLoader that remembers lines and refuses duplicate keys ----------------------------


class _Map(dict):
    line: int = 0
    lines: dict


class _Seq(list):
    line: int = 0
    lines: list


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    result = _Map()
    result.line, result.lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            seen = key in result
        except TypeError:  # an unhashable key (a list or mapping)
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable key", key_node.start_mark) from None
        if seen:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    result = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


# --- validation ------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        number = repr(value)  # an int may have thousands of digits
        return f"a number ({number if len(number) <= 40 else quoted(number)})"
    return f"a string ({quoted(value)})" if isinstance(value, str) else type(value).__name__


@dataclass
class _Validator:
    source: str
    problems: list[str] = field(default_factory=list)

    def fail(self, place: str, line: int | None, problem: str) -> None:
        at = f" (line {line})" if line else ""
        place = bare(place, 120)  # it holds the file's keys
        self.problems.append(f"{self.source}: {place}{at}: {problem}")

    def mapping(self, value: Any, place: str, line: int | None, allowed: tuple[str, ...],
                required: tuple[str, ...]) -> dict | None:
        if not isinstance(value, dict):
            self.fail(place or "document", line, f"expected a mapping with {', '.join(required or allowed)}, "
                                   f"got {_kind(value)}")
            return None
        lines = getattr(value, "lines", {})
        for key in value:
            if key not in allowed:
                self.fail(f"{place}.{key}" if place else str(key), lines.get(key),
                          f"unknown key {quoted(key)} (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.fail(place or "document", getattr(value, "line", None) or line,
                          f"missing required key {key!r}")
        return value

    def document(self, document: Any) -> list[OrganSpec]:
        if document is None:
            self.fail("document", None, "the document is empty; expected seedcore.organism.organ_types")
            return []
        root = self.mapping(document, "", 1, ("seedcore",), ("seedcore",))
        if root is None or "seedcore" not in root:
            return []
        line = root.lines.get("seedcore")
        seedcore = self.mapping(root["seedcore"], "seedcore", line, ("organism",), ("organism",))
        if seedcore is None or "organism" not in seedcore:
            return []
        line = seedcore.lines.get("organism")
        organism = self.mapping(seedcore["organism"], "seedcore.organism", line,
                                ("organ_types",), ("organ_types",))
        if organism is None or "organ_types" not in organism:
            return []
        return self.organ_types(organism["organ_types"], organism.lines.get("organ_types"))

    def organ_types(self, items: Any, line: int | None) -> list[OrganSpec]:
        place = "seedcore.organism.organ_types"
        if not isinstance(items, list):
            self.fail(place, line, f"expected a list of organs, got {_kind(items)}")
            return []
        if not items:
            self.fail(place, line, "the list is empty; define at least one organ")
            return []
        organs: list[OrganSpec] = []
        indexes: list[int] = []
        seen_ids: dict[str, str] = {}
        for index, item in enumerate(items):
            item_place = f"{place}[{index}]"
            item_line = items.lines[index] if hasattr(items, "lines") else None
            organ = self.organ(item, item_place, item_line)
            if organ is None:
                continue
            if organ.id in seen_ids:
                self.fail(f"{item_place}.id", item.lines.get("id"),
                          f"duplicate organ id {organ.id!r} (also {seen_ids[organ.id]})")
                continue
            seen_ids[organ.id] = item_place
            organs.append(organ)
            indexes.append(index)
        self.name_clashes(organs, indexes, place)
        total = sum(organ.agent_count for organ in organs)
        if total > MAX_TOTAL_AGENTS:
            self.fail(place, line, f"{total} agents in total is too many (at most {MAX_TOTAL_AGENTS})")
        return organs

    def organ(self, item: Any, place: str, line: int | None) -> OrganSpec | None:
        organ = self.mapping(item, place, line, _ORGAN_KEYS, _ORGAN_REQUIRED)
        if organ is None:
            return None
        lines = organ.lines
        ok = all(key in organ for key in _ORGAN_REQUIRED)

        organ_id = organ.get("id")
        if "id" in organ:
            if not isinstance(organ_id, str):
                self.fail(f"{place}.id", lines.get("id"), f"id must be a string, got {_kind(organ_id)}")
                ok = False
            elif not NAME_RE.match(organ_id):
                self.fail(f"{place}.id", lines.get("id"),
                          f"{quoted(organ_id)} is not a valid actor name (a letter, then letters, digits, "
                          f"'_' or '-', at most 64 characters)")
                ok = False
            elif organ_id in RESERVED_NAMES:
                self.fail(f"{place}.id", lines.get("id"),
                          f"{organ_id!r} is reserved for a singleton actor ({', '.join(RESERVED_NAMES)})")
                ok = False

        organ_type = organ.get("type")
        if "type" in organ and organ_type not in ORGAN_TYPES:
            shown = quoted(organ_type) if isinstance(organ_type, str) else _kind(organ_type)
            self.fail(f"{place}.type", lines.get("type"),
                      f"unknown organ type {shown} (one of: {', '.join(ORGAN_TYPES)})")
            ok = False

        count = organ.get("agent_count")
        if "agent_count" in organ:
            if isinstance(count, bool) or not isinstance(count, int):
                self.fail(f"{place}.agent_count", lines.get("agent_count"),
                          f"agent_count must be a whole number, got {_kind(count)}")
                ok = False
            elif count < 0:
                self.fail(f"{place}.agent_count", lines.get("agent_count"),
                          f"agent_count must not be negative, got {count}")
                ok = False
            elif count > MAX_AGENTS_PER_ORGAN:
                self.fail(f"{place}.agent_count", lines.get("agent_count"),
                          f"agent_count {count} is too large (at most {MAX_AGENTS_PER_ORGAN} per organ)")
                ok = False

        description = organ.get("description", "")
        if description is None:
            description = ""
        if not isinstance(description, str):
            self.fail(f"{place}.description", lines.get("description"),
                      f"description must be a string, got {_kind(description)}")
            ok = False

        task_types = organ.get("task_types", [])
        if task_types is None:
            task_types = []
        if not isinstance(task_types, list):
            self.fail(f"{place}.task_types", lines.get("task_types"),
                      f"task_types must be a list of strings, got {_kind(task_types)}")
            ok = False
        else:
            for index, task_type in enumerate(task_types):
                if not isinstance(task_type, str) or not task_type.strip():
                    self.fail(f"{place}.task_types[{index}]", lines.get("task_types"),
                              f"a task type must be a non-empty string, got {_kind(task_type)}")
                    ok = False
        if not ok:
            return None
        return OrganSpec(id=organ_id, type=organ_type, agent_count=count, description=description,
                         task_types=tuple(task_types))

    def name_clashes(self, organs: list[OrganSpec], indexes: list[int], place: str) -> None:
        """An organ id must not equal another organ's agent name (`a_agent_0`)."""
        agent_owner = {name: organ.id for organ in organs for name in organ.agent_ids}
        for index, organ in zip(indexes, organs):
            if organ.id in agent_owner:
                self.fail(f"{place}[{index}].id", None,
                          f"organ id {organ.id!r} clashes with an agent of organ "
                          f"{agent_owner[organ.id]!r} (agents are named {{organ_id}}_agent_{{i}})")
