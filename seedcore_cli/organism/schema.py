"""The organism config's two formats, validated into `OrganSpec`s and `AgentSpec`s (no ray import).

`config` finds and loads the file (the formats are described for users in docs/configuration.md);
this module holds the specs, the schema's limits and the validation of both formats. Every problem names its place
(`seedcore.organism.organs[1].agents[0].count (line 12)`); all are collected, the first raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from seedcore_cli.errors import quoted
from seedcore_cli.organism.model import KIND_AGENT, KIND_ORGAN, KIND_SINGLETON
from seedcore_cli.organism.names import SINGLETONS
from seedcore_cli.organism.options import ActorOptions, Layer, conflicting_retries, default_layers, parse_layer, resolve
from seedcore_cli.organism.yamldoc import Validator, kind, line_of

ORGAN_TYPES = ("Cognitive", "Actuator", "Utility")
# SeedCore's `organs` entries need not say their type: they are Utility organs unless they do.
DEFAULT_ORGAN_TYPE = "Utility"
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
NAME_RULE = "a letter, then letters, digits, '_' or '-', at most 64 characters"
# The singleton actors' names: no organ or agent may take them.
RESERVED_NAMES = tuple(SINGLETONS)

_ORGANISM_KEYS = ("organ_types", "organs", "defaults", "settings", "topology")
# SeedCore's own sections: accepted, and said to be ignored under -v.
_IGNORED = {"settings": "SeedCore's global settings", "topology": "SeedCore's agent topology"}
_COMMON_KEYS = ("id", "type", "description", "task_types", "organ_options", "agent_options")
_SEED_ORGAN_KEYS = (*_COMMON_KEYS, "agent_count")
_SEEDCORE_ORGAN_KEYS = (*_COMMON_KEYS, "agents")
_ENTRY_KEYS = ("specialization", "count", "options", "class", "behaviors", "behavior_config")
_SEEDCORE_ONLY = {"class": str, "behaviors": list, "behavior_config": dict}
_SEED_RULE = "agents are named {organ_id}_agent_{i}"
_SEEDCORE_RULE = "agents are named {organ_id}_{specialization}_{i}, lower-cased"


def agent_name(organ_id: str, index: int) -> str:
    """SeedCore's agent naming: `{organ_id}_agent_{i}`, i from 0."""
    return f"{organ_id}_agent_{index}"


def specialized_agent_name(organ_id: str, specialization: str, index: int) -> str:
    """An agent of SeedCore's `organs[].agents[]` format: `{organ_id}_{specialization}_{i}`, lower-cased."""
    return f"{organ_id}_{specialization}_{index}".lower()


@dataclass(frozen=True)
class AgentSpec:
    name: str
    organ_id: str
    specialization: str | None = None  # its role; None in the organ_types format
    options: ActorOptions = field(default_factory=lambda: ActorOptions.builtin(KIND_AGENT))


@dataclass(frozen=True)
class OrganSpec:
    id: str
    type: str
    agents: tuple[AgentSpec, ...] = ()
    description: str = ""
    task_types: tuple[str, ...] = ()
    options: ActorOptions = field(default_factory=lambda: ActorOptions.builtin(KIND_ORGAN))

    @property
    def agent_count(self) -> int:
        return len(self.agents)

    @property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(agent.name for agent in self.agents)


@dataclass
class Parsed:
    organs: list[OrganSpec] = field(default_factory=list)
    singleton_options: ActorOptions = field(default_factory=lambda: ActorOptions.builtin(KIND_SINGLETON))
    notes: list[str] = field(default_factory=list)


@dataclass
class _Placed:
    """An organ as parsed, with the places its names came from (for clash messages)."""

    organ: OrganSpec
    place: str
    id_line: int | None
    agent_places: list[tuple[str, int | None]]  # one (place, line) per agent


class Schema:
    """Validates one document; `document(doc)` -> Parsed, problems on the validator."""

    def __init__(self, validator: Validator, environ: Mapping[str, str]) -> None:
        self.v = validator
        self.layers = default_layers(environ)  # a bad environment value raises here (exit 2)
        self.prefix = "seedcore.organism"
        self.parsed = Parsed()
        self._conflicts: set[str] = set()
        self._seedcore_only = 0

    def place(self, relative: str) -> str:
        return f"{self.prefix}.{relative}" if self.prefix else relative

    def document(self, doc: Any) -> Parsed:
        if doc is None:
            self.v.fail("document", None, "the document is empty; expected seedcore.organism.organ_types "
                                          "(or SeedCore's organs)")
        elif isinstance(doc, dict) and "seedcore" not in doc and "organs" in doc:
            self.prefix = ""  # SeedCore's file without the seedcore.organism nesting
            self.organism(doc, 1)
        else:
            root = self.v.mapping(doc, "", 1, ("seedcore",), ("seedcore",))
            seedcore = None if root is None or "seedcore" not in root else self.v.mapping(
                root["seedcore"], "seedcore", line_of(root, "seedcore"), ("organism",), ("organism",))
            if seedcore is not None and "organism" in seedcore:
                self.organism(seedcore["organism"], line_of(seedcore, "organism"))
        return self.parsed

    def organism(self, value: Any, line: int | None) -> None:
        mapping = self.v.mapping(value, self.prefix, line, _ORGANISM_KEYS, ())
        if mapping is None:
            return
        if "organ_types" not in mapping and "organs" not in mapping:
            self.v.fail(self.prefix or "document", line_of(mapping) or line,
                        "missing required key 'organ_types' (or SeedCore's 'organs')")
        elif "organ_types" in mapping and "organs" in mapping:
            self.v.fail(self.place("organs"), line_of(mapping, "organs"),
                        "give organ_types (seedcore's format) or organs (SeedCore's), not both")
        for key, what in _IGNORED.items():
            if key in mapping:
                self.parsed.notes.append(f"{self.place(key)} (line {line_of(mapping, key)}): {what}, "
                                         "accepted and ignored by seedcore")
        self.defaults(mapping.get("defaults"), line_of(mapping, "defaults"))
        self.parsed.singleton_options = self.resolved(self.layers[KIND_SINGLETON], self.place("defaults"))
        if "organ_types" in mapping:
            self.organ_list(mapping["organ_types"], "organ_types", line_of(mapping, "organ_types"),
                            self.seed_organ, _SEED_RULE)
        elif "organs" in mapping:
            self.organ_list(mapping["organs"], "organs", line_of(mapping, "organs"), self.seedcore_organ,
                            _SEEDCORE_RULE)
        if self._seedcore_only:
            self.parsed.notes.append(
                f"{self.place('organs[].agents[]')}: class, behaviors and behavior_config (in {self._seedcore_only} "
                f"entr{'y' if self._seedcore_only == 1 else 'ies'}) describe SeedCore's own agents; seedcore "
                "creates its own Agent actors and ignores them")

    def defaults(self, value: Any, line: int | None) -> None:
        kinds = (KIND_ORGAN, KIND_AGENT, KIND_SINGLETON)
        mapping = None if value is None else self.v.mapping(value, self.place("defaults"), line, kinds, ())
        for actor_kind in kinds:
            if mapping is not None and actor_kind in mapping:
                relative = f"defaults.{actor_kind}"
                self.layers[actor_kind] = [*self.layers[actor_kind], parse_layer(
                    self.v, mapping[actor_kind], self.place(relative), line_of(mapping, actor_kind), f"config {relative}")]

    def resolved(self, layers: list[Layer], place: str) -> ActorOptions:
        options = resolve(layers)
        problem = conflicting_retries(options)
        if problem and problem not in self._conflicts:  # reported once, where it first applies
            self._conflicts.add(problem)
            self.v.fail(place, None, problem)
        return options

    # --- organs ------------------------------------------------------------------------------

    def organ_list(self, items: Any, key: str, line: int | None,
                   parse_one: Callable[[Any, str, int | None], _Placed | None], rule: str) -> None:
        place = self.place(key)
        if not isinstance(items, list):
            self.v.fail(place, line, f"expected a list of organs, got {kind(items)}")
            return
        if not items:
            self.v.fail(place, line, "the list is empty; define at least one organ")
            return
        placed = [found for index, item in enumerate(items)
                  if (found := parse_one(item, f"{key}[{index}]", line_of(items, index))) is not None]
        organs = self.unique_names(placed, rule)
        total = sum(organ.agent_count for organ in organs)
        if total > MAX_TOTAL_AGENTS:
            self.v.fail(place, line, f"{total} agents in total is too many (at most {MAX_TOTAL_AGENTS})")
        self.parsed.organs = organs

    def unique_names(self, placed: list[_Placed], rule: str) -> list[OrganSpec]:
        """Organ ids first, then agent names: each name once across the organism."""
        organs: dict[str, _Placed] = {}
        for item in placed:
            held = organs.get(item.organ.id)
            if held is not None:
                self.v.fail(f"{item.place}.id", item.id_line,
                            f"duplicate organ id {quoted(item.organ.id)} (also {held.place})")
            else:
                organs[item.organ.id] = item
        agents: dict[str, str] = {}
        reported: set[tuple[str, str]] = set()  # two entries clash on every index: said once
        for item in organs.values():
            for agent, (where, line) in zip(item.organ.agents, item.agent_places):
                first = organs[agent.name].place if agent.name in organs else agents.get(agent.name)
                if first is None:
                    agents[agent.name] = where
                elif (first, where) not in reported:
                    reported.add((first, where))
                    if agent.name in organs:
                        self.v.fail(f"{first}.id", organs[agent.name].id_line,
                                    f"organ id {quoted(agent.name)} clashes with an agent of organ {quoted(item.organ.id)} "
                                    f"({where}; {rule})")
                    else:
                        self.v.fail(where, line, f"agent name {quoted(agent.name)} is made twice: by {first} "
                                                 f"and by {where} ({rule})")
        return [item.organ for item in organs.values()]

    def common(self, organ: dict, place: str, type_required: bool) -> tuple[str, str, str, tuple[str, ...]] | None:
        """id, type, description and task_types, the fields both formats share; None if any is bad."""
        ok = "id" in organ and ("type" in organ or not type_required)
        organ_id = organ.get("id")
        problem = ""
        if "id" in organ and not isinstance(organ_id, str):
            problem = f"id must be a string, got {kind(organ_id)}"
        elif "id" in organ and not NAME_RE.match(str(organ_id)):  # a str: the branch above
            problem = f"{quoted(organ_id)} is not a valid actor name ({NAME_RULE})"
        elif organ_id in RESERVED_NAMES:
            problem = f"{quoted(organ_id)} is reserved for a singleton actor ({', '.join(RESERVED_NAMES)})"
        if problem:
            self.v.fail(f"{place}.id", line_of(organ, "id"), problem)
            ok = False
        organ_type = organ.get("type", DEFAULT_ORGAN_TYPE)
        if organ_type not in ORGAN_TYPES:
            shown = repr(organ_type) if isinstance(organ_type, str) else kind(organ_type)
            self.v.fail(f"{place}.type", line_of(organ, "type"),
                        f"unknown organ type {shown} (one of: {', '.join(ORGAN_TYPES)})")
            ok = False
        description = organ.get("description") or ""
        if not isinstance(description, str):
            self.v.fail(f"{place}.description", line_of(organ, "description"),
                        f"description must be a string, got {kind(description)}")
            ok = False
        task_types = organ.get("task_types") or []
        if not isinstance(task_types, list):
            self.v.fail(f"{place}.task_types", line_of(organ, "task_types"),
                        f"task_types must be a list of strings, got {kind(task_types)}")
            return None
        for index, task_type in enumerate(task_types):
            if not isinstance(task_type, str) or not task_type.strip():
                self.v.fail(f"{place}.task_types[{index}]", line_of(organ, "task_types"),
                            f"a task type must be a non-empty string, got {kind(task_type)}")
                ok = False
        return (str(organ_id), organ_type, description, tuple(task_types)) if ok else None  # ok: id is a str

    def count(self, mapping: dict, key: str, place: str, default: int | None = None) -> int | None:
        value = mapping.get(key, default)
        problem = ("" if value is None else
                   f"{key} must be a whole number, got {kind(value)}" if isinstance(value, bool) or not isinstance(value, int)
                   else f"{key} must not be negative, got {value}" if value < 0
                   else f"{key} {value} is too large (at most {MAX_AGENTS_PER_ORGAN} per organ)"
                   if value > MAX_AGENTS_PER_ORGAN else "")
        if problem:
            self.v.fail(f"{place}.{key}", line_of(mapping, key), problem)
            return None
        return value

    def organ_options(self, organ: dict, relative: str) -> tuple[ActorOptions, list[Layer]]:
        """The organ's resolved options and the layers its agents start from."""
        layers = {key: parse_layer(self.v, organ.get(key), self.place(f"{relative}.{key}"), line_of(organ, key),
                                   f"config {relative}.{key}") for key in ("organ_options", "agent_options")}
        options = self.resolved([*self.layers[KIND_ORGAN], layers["organ_options"]], self.place(relative))
        return options, [*self.layers[KIND_AGENT], layers["agent_options"]]

    def agent_names_ok(self, names: list[str], place: str, line: int | None) -> bool:
        bad = next((name for name in names if not NAME_RE.match(name)), None)
        if bad is not None:
            self.v.fail(place, line, f"agent name {quoted(bad)} is not a valid actor name ({NAME_RULE})")
        return bad is None

    def seed_organ(self, item: Any, relative: str, line: int | None) -> _Placed | None:
        """One `organ_types[]` entry: agent_count agents named {organ_id}_agent_{i}."""
        place = self.place(relative)
        organ = self.v.mapping(item, place, line, _SEED_ORGAN_KEYS, ("id", "type", "agent_count"))
        if organ is None:
            return None
        common = self.common(organ, place, type_required=True)
        count = self.count(organ, "agent_count", place)
        options, agent_layers = self.organ_options(organ, relative)
        if common is None or count is None:
            return None
        organ_id, organ_type, description, task_types = common
        agent_options = self.resolved(agent_layers, place)
        names = [agent_name(organ_id, index) for index in range(count)]
        if not self.agent_names_ok(names, f"{place}.id", line_of(organ, "id")):
            return None
        agents = tuple(AgentSpec(name, organ_id, None, agent_options) for name in names)
        return _Placed(OrganSpec(organ_id, organ_type, agents, description, task_types, options),
                       place, line_of(organ, "id"), [(f"{place}.agent_count", line_of(organ, "agent_count"))] * count)

    def seedcore_organ(self, item: Any, relative: str, line: int | None) -> _Placed | None:
        """One SeedCore `organs[]` entry: its agents come from `agents[]` (specialization x count)."""
        place = self.place(relative)
        organ = self.v.mapping(item, place, line, _SEEDCORE_ORGAN_KEYS, ("id",))
        if organ is None:
            return None
        common = self.common(organ, place, type_required=False)
        options, agent_layers = self.organ_options(organ, relative)
        entries = organ.get("agents") or []
        if not isinstance(entries, list):
            self.v.fail(f"{place}.agents", line_of(organ, "agents"), f"expected a list of agents, got {kind(entries)}")
            return None
        organ_id = common[0] if common else None
        agents: list[AgentSpec] = []
        places: list[tuple[str, int | None]] = []
        for index, entry in enumerate(entries):
            made = self.agents_entry(entry, f"{relative}.agents[{index}]", line_of(entries, index), organ_id, agent_layers)
            agents += made
            places += [(self.place(f"{relative}.agents[{index}]"), line_of(entries, index))] * len(made)
        if len(agents) > MAX_AGENTS_PER_ORGAN:
            self.v.fail(f"{place}.agents", line_of(organ, "agents"),
                        f"{len(agents)} agents in one organ is too many (at most {MAX_AGENTS_PER_ORGAN})")
        if common is None:
            return None
        organ_id, organ_type, description, task_types = common
        return _Placed(OrganSpec(organ_id, organ_type, tuple(agents), description, task_types, options),
                       place, line_of(organ, "id"), places)

    def agents_entry(self, item: Any, relative: str, line: int | None, organ_id: str | None,
                     layers: list[Layer]) -> list[AgentSpec]:
        """`count` agents of one specialization (its role), with the entry's own `options` on top."""
        place = self.place(relative)
        entry = self.v.mapping(item, place, line, _ENTRY_KEYS, ("specialization",))
        if entry is None:
            return []
        specialization = entry.get("specialization")
        ok = isinstance(specialization, str) and bool(specialization.strip())
        if "specialization" in entry and not ok:
            self.v.fail(f"{place}.specialization", line_of(entry, "specialization"),
                        f"specialization must be a non-empty string, got {kind(specialization)}")
        for key, expected in _SEEDCORE_ONLY.items():
            if key in entry and not isinstance(entry[key], expected):
                self.v.fail(f"{place}.{key}", line_of(entry, key), f"{key} must be a {_TYPE_WORDS[expected]}, "
                                                                   f"got {kind(entry[key])}")
        self._seedcore_only += any(key in entry for key in _SEEDCORE_ONLY)
        count = self.count(entry, "count", place, default=1)
        own = parse_layer(self.v, entry.get("options"), f"{place}.options", line_of(entry, "options"),
                          f"config {relative}.options")
        options = self.resolved([*layers, own], place)
        if not ok or count is None or organ_id is None or not isinstance(specialization, str):
            return []  # (ok means specialization is a non-empty string)
        names = [specialized_agent_name(organ_id, specialization.strip(), index) for index in range(count)]
        if not self.agent_names_ok(names, f"{place}.specialization", line_of(entry, "specialization")):
            return []
        return [AgentSpec(name, organ_id, specialization.strip(), options) for name in names]


_TYPE_WORDS = {str: "string", list: "list", dict: "mapping"}
