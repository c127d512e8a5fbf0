"""YAML read with places: a SafeLoader that remembers each key's line and refuses duplicate keys,
and the validator every part of the organism config uses to collect its problems.

Nothing here knows the schema: `config` and `options` say what is allowed; this module reads the
text and words the problems ("{source}: {place} (line N): {problem}").

- `read(text, source) -> Any`: the document, mappings and lists carrying `.line` and `.lines`;
  raises `ConfigError` for YAML syntax errors and duplicate keys.
- `kind(value)`: how a problem names what it found ("a string ('two')", "a list").
- `Validator(source)`: `.fail(place, line, problem)`, `.mapping(...)`, `.problems`, `.raise_first()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from seedcore_cli.errors import ConfigError, bare, fold, quoted


def read(text: str, source: str) -> Any:
    """Parse YAML text; `source` names the file in error messages."""
    try:
        return yaml.load(text, Loader=_Loader)
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


def _where(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _yaml_problem(err: yaml.YAMLError) -> str:
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    text = ", ".join(part for part in parts if part)
    return text or str(err).splitlines()[0]


def line_of(container: Any, key: Any = None) -> int | None:
    """The line of `container[key]` (a mapping key or a list index), or of the container itself."""
    if key is None:
        return getattr(container, "line", None)
    lines = getattr(container, "lines", None)
    if isinstance(lines, dict):
        return lines.get(key)
    if isinstance(lines, list) and isinstance(key, int) and 0 <= key < len(lines):
        return lines[key]
    return None


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


# --- problems --------------------------------------------------------------------------------


def kind(value: Any) -> str:
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
class Validator:
    """Collects every problem of one document (the first is the error, the rest are counted)."""

    source: str
    problems: list[str] = field(default_factory=list)

    def fail(self, place: str, line: int | None, problem: str) -> None:
        at = f" (line {line})" if line else ""
        place = bare(place, 120)  # it holds the file's keys
        self.problems.append(f"{self.source}: {place}{at}: {problem}")

    def mapping(self, value: Any, place: str, line: int | None, allowed: tuple[str, ...],
                required: tuple[str, ...]) -> dict | None:
        """`value` if it is a mapping (unknown keys and missing required ones are problems)."""
        if not isinstance(value, dict):
            self.fail(place or "document", line, f"expected a mapping with {', '.join(required or allowed)}, "
                                                 f"got {kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.fail(f"{place}.{key}" if place else str(key), line_of(value, key),
                          f"unknown key {quoted(key)} (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.fail(place or "document", line_of(value) or line, f"missing required key {key!r}")
        return value

    def raise_first(self) -> None:
        """Raise the first problem as a ConfigError (the hint counts the others); nothing if none."""
        if self.problems:
            first, *rest = self.problems
            hint = (f"{len(rest)} more problem(s) in the same file" if rest
                    else "see the organism config format in docs/configuration.md")
            raise ConfigError(first, hint)
