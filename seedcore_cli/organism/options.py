"""Ray actor options for seedcore's actors: what each organ, agent and singleton asks Ray for.

Keys (the config's `defaults.{organ,agent,singleton}`, `organ_options`, `agent_options` and,
in SeedCore's format, an agents entry's `options`):

| key | meaning |
| --- | --- |
| num_cpus, num_gpus | a number >= 0 (fractions down to 0.0001, Ray's smallest step) |
| memory | bytes: a whole number, or a number with a unit (`256MiB`, `1.5GB`; B, K/KB, M/MB, G/GB, |
| | T/TB are powers of 1000, Ki/KiB ... Ti/TiB of 1024) |
| resources | custom resources, name -> amount (`{robot_arm: 1}`); CPU, GPU and memory have their own keys |
| max_restarts, max_task_retries | a whole number >= -1 (-1: without limit); max_task_retries is |
| | passed to Ray only when given, and needs max_restarts != 0 |
| placement | `default`, or `spread` (Ray's SPREAD scheduling strategy) |

Each key replaces the lower layer's value whole (`resources` too). Precedence, lowest first:
built-in (fractional CPUs, so nothing needs a CPU on a 0-CPU head; restarts without limit, as
SeedCore does) < SeedCore's environment variables < the config's `defaults` < the organ's own
options < an agents entry's `options`. Every value remembers where it came from (`sources`).

Environment (read where the config is loaded; a bad value is a ConfigError, exit 2, naming it):
`SEEDCORE_ORGAN_CPU` (organ num_cpus), `SEEDCORE_AGENT_CPU` (agent num_cpus),
`SEEDCORE_ORGAN_MAX_RESTARTS` (organ max_restarts), `SEEDCORE_ACTOR_LIFETIME`: only `detached`
is accepted, because seedcore creates the actors from a short-lived CLI process and they must
outlive it (a `non_detached` actor would die with the command that created it).

Public API (no ray import):

- `ActorOptions`: the resolved options of one actor; `.to_ray_options()` (the one place Ray's
  `.options(...)` keywords are built), `.demand()` (Ray resource name -> amount), `.to_dict()`,
  `.summary()` ("cpu=0.02 restarts=-1 spread"), `.source(key)`, `.describe_sources()`;
  `ActorOptions.builtin(kind)`; `spec_options(actor_spec)`: what an ActorSpec is created with.
- `default_layers(environ) -> {kind: [Layer, ...]}` (built-in, then environment),
  `parse_layer(validator, value, place, line, source) -> Layer`, `resolve(layers) -> ActorOptions`.
- `format_amount(resource, amount)`, `format_quantity(resource, amount)`, `format_bytes(n)`,
  `parse_memory(value)`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from seedcore_cli.errors import ConfigError, quoted
from seedcore_cli.organism.model import KIND_AGENT, KIND_ORGAN, KIND_SINGLETON
from seedcore_cli.organism.yamldoc import Validator, kind, line_of

if TYPE_CHECKING:
    from seedcore_cli.organism.model import ActorSpec

OPTION_KEYS = ("num_cpus", "num_gpus", "memory", "resources", "max_restarts", "max_task_retries", "placement")
PLACEMENTS = ("default", "spread")
BUILT_IN = "built-in"
RAY_DEFAULT = "Ray's default"
LIFETIME = "detached"
LIFETIME_ENV = "SEEDCORE_ACTOR_LIFETIME"
# Ray counts resources in steps of 0.0001; a smaller non-zero amount is refused at creation.
RESOURCE_STEP = 0.0001
# SeedCore's defaults: fractional CPUs (nothing lands on a 0-CPU head for want of a whole CPU),
# restarts without limit (the organism heals itself).
BUILTIN_DEFAULTS: dict[str, dict[str, Any]] = {
    KIND_ORGAN: {"num_cpus": 0.01, "max_restarts": -1},
    KIND_AGENT: {"num_cpus": 0.02, "max_restarts": -1},
    KIND_SINGLETON: {"num_cpus": 0.01, "max_restarts": -1},
}
# SeedCore's environment variables: variable -> (kind, option).
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "SEEDCORE_ORGAN_CPU": (KIND_ORGAN, "num_cpus"),
    "SEEDCORE_AGENT_CPU": (KIND_AGENT, "num_cpus"),
    "SEEDCORE_ORGAN_MAX_RESTARTS": (KIND_ORGAN, "max_restarts"),
}
# Resources with a key of their own (Ray refuses CPU and GPU in `resources`).
_OWN_KEYS = {"CPU": "num_cpus", "GPU": "num_gpus", "memory": "memory", "object_store_memory": None}

Layer = dict[str, tuple[Any, str]]  # option -> (value, where it came from)


@dataclass(frozen=True)
class ActorOptions:
    """One actor's resolved options (None: Ray's default) and where each value came from."""

    num_cpus: float | None = None
    num_gpus: float | None = None
    memory: int | None = None
    resources: tuple[tuple[str, float], ...] = ()
    max_restarts: int | None = None
    max_task_retries: int | None = None
    placement: str = "default"
    lifetime: str = LIFETIME
    sources: tuple[tuple[str, str], ...] = ()

    @classmethod
    def builtin(cls, actor_kind: str) -> ActorOptions:
        """seedcore's built-in options for a kind (no environment, no config)."""
        return resolve(default_layers({})[actor_kind])

    def source(self, key: str) -> str:
        return dict(self.sources).get(key, RAY_DEFAULT)

    def to_ray_options(self) -> dict[str, Any]:
        """The keywords for Ray's `.options(...)` (the caller adds name, namespace, get_if_exists)."""
        options: dict[str, Any] = {"lifetime": self.lifetime}
        for key in ("num_cpus", "num_gpus", "memory", "max_restarts", "max_task_retries"):
            if getattr(self, key) is not None:
                options[key] = getattr(self, key)
        if self.resources:
            options["resources"] = dict(self.resources)
        if self.placement == "spread":
            options["scheduling_strategy"] = "SPREAD"
        return options

    def demand(self) -> dict[str, float]:
        """What the actor holds while it lives, by Ray's resource names (zero amounts left out)."""
        wanted = {"CPU": self.num_cpus, "GPU": self.num_gpus, "memory": self.memory, **dict(self.resources)}
        return {name: amount for name, amount in wanted.items() if amount}

    def to_dict(self) -> dict[str, Any]:
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "memory": self.memory,
                "resources": dict(self.resources), "max_restarts": self.max_restarts,
                "max_task_retries": self.max_task_retries, "placement": self.placement,
                "lifetime": self.lifetime}

    def summary(self) -> str:
        """A compact line for tables: 'cpu=0.02 mem=256MiB robot_arm=1 restarts=3 retries=2 spread'."""
        parts = [f"cpu={_number(self.num_cpus)}" if self.num_cpus is not None else "",
                 f"gpu={_number(self.num_gpus)}" if self.num_gpus else "",
                 f"mem={format_bytes(self.memory)}" if self.memory else "",
                 *(f"{name}={_number(amount)}" for name, amount in self.resources),
                 f"restarts={self.max_restarts}" if self.max_restarts is not None else "",
                 f"retries={self.max_task_retries}" if self.max_task_retries is not None else "",
                 "spread" if self.placement == "spread" else ""]
        return " ".join(part for part in parts if part)

    def describe_sources(self) -> str:
        """Each value that is set with its origin: 'num_cpus=0.02 (SEEDCORE_AGENT_CPU), ...'."""
        shown = []
        for key, value in self.to_dict().items():
            if value is None or value == {} or (key == "placement" and value == "default"
                                                and key not in dict(self.sources)):
                continue
            text = format_bytes(value) if key == "memory" else value
            shown.append(f"{key}={text} ({self.source(key)})")
        return ", ".join(shown)


def spec_options(spec: ActorSpec) -> ActorOptions:
    """The options an ActorSpec is created with: its own, else the built-in ones of its kind."""
    return spec.options if spec.options is not None else ActorOptions.builtin(spec.kind)


def resolve(layers: Iterable[Layer]) -> ActorOptions:
    """Merge layers, lowest first: a key in a later layer replaces the earlier value whole."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in layers:
        for key, (value, source) in layer.items():
            values[key], sources[key] = value, source
    resources = tuple(sorted((values.pop("resources", None) or {}).items()))
    return ActorOptions(**values, resources=resources, sources=tuple(sorted(sources.items())))


def conflicting_retries(options: ActorOptions) -> str:
    """Why these options cannot go together ('' when they can)."""
    if options.max_restarts == 0 and options.max_task_retries not in (None, 0):
        return (f"max_task_retries {options.max_task_retries} (from {options.source('max_task_retries')}) "
                f"needs max_restarts != 0, but max_restarts is 0 (from {options.source('max_restarts')}): "
                "Ray retries an actor's tasks only on a restarted actor")
    return ""


# --- the layers below the config: built-in and environment -----------------------------------


def default_layers(environ: Mapping[str, str]) -> dict[str, list[Layer]]:
    """Per kind: the built-in layer, then the one SeedCore's environment variables make.
    Raises ConfigError (exit 2) naming a variable whose value is not usable."""
    layers = {actor_kind: [{key: (value, BUILT_IN) for key, value in {**values, "lifetime": LIFETIME}.items()}]
              for actor_kind, values in BUILTIN_DEFAULTS.items()}
    env: dict[str, Layer] = {actor_kind: {} for actor_kind in BUILTIN_DEFAULTS}
    for variable, (actor_kind, key) in ENV_OVERRIDES.items():
        text = environ.get(variable, "").strip()
        if text:
            env[actor_kind][key] = (_from_env(variable, key, text), variable)
    lifetime = environ.get(LIFETIME_ENV, "").strip()
    if lifetime and lifetime != LIFETIME:
        raise ConfigError(f"{LIFETIME_ENV}={quoted(lifetime)} is not accepted: seedcore creates SeedCore's actors "
                          "from a short-lived command and they must outlive it, so they are always 'detached'",
                          f"unset {LIFETIME_ENV} or set it to 'detached'")
    for actor_kind in env:
        if lifetime:
            env[actor_kind]["lifetime"] = (LIFETIME, LIFETIME_ENV)
        layers[actor_kind].append(env[actor_kind])
    return layers


def _from_env(variable: str, key: str, text: str) -> Any:
    try:
        value: Any = int(text) if key == "max_restarts" else float(text)
    except ValueError:
        value = text
    try:
        return _PARSERS[key](value, key)
    except ValueError as err:
        example = "-1 (without limit), 0 or a positive whole number" if key == "max_restarts" else "0.02"
        raise ConfigError(f"{variable}={quoted(text)} is not usable as {key}: {err}",
                          f"set {variable} to {example}, or unset it") from None


# --- the config's option mappings ------------------------------------------------------------


def parse_layer(validator: Validator, value: Any, place: str, line: int | None, source: str) -> Layer:
    """An option mapping of the config as a layer; each bad value is a problem naming its place."""
    if value is None:
        return {}
    mapping = validator.mapping(value, place, line, OPTION_KEYS, ())
    if mapping is None:
        return {}
    layer: Layer = {}
    for key, raw in mapping.items():
        if key not in OPTION_KEYS:
            continue
        try:
            parsed = (_resources(validator, raw, f"{place}.{key}", line_of(mapping, key)) if key == "resources"
                      else _PARSERS[key](raw, key))
        except ValueError as err:
            validator.fail(f"{place}.{key}", line_of(mapping, key), str(err))
            continue
        if parsed is not None:
            layer[key] = (parsed, source)
    return layer


def _amount(raw: Any, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(f"{what} must be a number >= 0, got {kind(raw)}")
    if not math.isfinite(raw) or raw < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {quoted(raw)}")
    if 0 < raw < RESOURCE_STEP:
        raise ValueError(f"{what} {quoted(raw)} is below Ray's smallest amount ({RESOURCE_STEP:g})")
    return raw


def _count(raw: Any, what: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError(f"{what} must be a whole number, got {kind(raw)}")
    if raw < -1:
        raise ValueError(f"{what} must be -1 (without limit), 0 or more, got {raw}")
    return raw


def _placement(raw: Any, what: str) -> str:
    if not isinstance(raw, str) or raw.strip().lower() not in PLACEMENTS:
        shown = repr(raw) if isinstance(raw, str) else kind(raw)
        raise ValueError(f"unknown {what} {shown} (one of: {', '.join(PLACEMENTS)})")
    return raw.strip().lower()


def _resources(validator: Validator, raw: Any, place: str, line: int | None) -> dict[str, float] | None:
    if not isinstance(raw, dict):
        raise ValueError(f"resources must be a mapping of resource name to amount, got {kind(raw)}")
    resources: dict[str, float] = {}
    for name, amount in raw.items():
        if not isinstance(name, str) or not name.strip():
            validator.fail(place, line_of(raw, name) or line, f"a resource name must be a non-empty string, got {kind(name)}")
        elif name in _OWN_KEYS:
            instead = f"use {_OWN_KEYS[name]} instead" if _OWN_KEYS[name] else "Ray does not take it for an actor"
            validator.fail(f"{place}.{name}", line_of(raw, name), f"{quoted(name)} is not a custom resource: {instead}")
        else:
            try:
                resources[name] = _amount(amount, f"resource {quoted(name)}")
            except ValueError as err:
                validator.fail(f"{place}.{name}", line_of(raw, name), str(err))
    return resources


_PARSERS = {"num_cpus": _amount, "num_gpus": _amount, "max_restarts": _count, "max_task_retries": _count,
            "placement": _placement, "memory": lambda raw, what: parse_memory(raw)}


# --- memory ----------------------------------------------------------------------------------

_MEMORY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$")
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20,
          "gi": 2**30, "gib": 2**30, "ti": 2**40, "tib": 2**40}


def parse_memory(raw: Any) -> int:
    """Bytes from a whole number or '256MiB' / '1.5 GB'; ValueError says what is wrong."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError(f"memory must be bytes or a size with a unit (e.g. 256MiB), got {kind(raw)}")
    size: Decimal | int | float
    if isinstance(raw, str):
        match = _MEMORY_RE.match(raw.strip())
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(f"memory {quoted(raw)} is not a size (a number with a unit: B, KB, MB, GB, TB, KiB, "
                             "MiB, GiB or TiB)")
        size = Decimal(match.group(1)) * _UNITS[unit]  # exact: 2.01KB is 2010 bytes
    else:
        size = raw
    if not (size.is_finite() if isinstance(size, Decimal) else math.isfinite(size)) or size < 0 or size != int(size):
        raise ValueError(f"memory must be a whole number of bytes >= 0, got {quoted(raw)}")
    return int(size)


def format_bytes(size: int | float) -> str:
    for name, unit in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= unit:
            return f"{size / unit:.4g}{name}"
    return f"{_number(size)}B"


def format_quantity(resource: str, amount: float) -> str:
    """An amount of a Ray resource: '256MiB' for memory, '0.12' for the others."""
    return format_bytes(amount) if resource == "memory" else _number(amount)


def format_amount(resource: str, amount: float) -> str:
    """'256MiB of memory', '0.12 CPU', '1 robot_arm'."""
    quantity = format_quantity(resource, amount)
    return f"{quantity} of memory" if resource == "memory" else f"{quantity} {resource}"


def _number(value: float | int) -> str:
    return f"{round(value, 4):g}"
