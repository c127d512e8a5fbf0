"""Configuration: `[tool.seedcore.lint]` in the nearest pyproject.toml, then the command line.

The table sits in the closest pyproject.toml above the first path checked (or the file the
command line names). Its globs (exclude, extend-exclude, per-file-ignores, scripts) are relative
to that file's directory, gitignore-style. The command line wins over the file: its select and
exclude replace the file's, its ignore and extend-exclude add to them. A malformed file or value
is bad input (exit 2), never a silent default. Messages name a command-line value by the label
the caller gives (Overrides.labels): only cli/ knows the flags' spellings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seedcore_cli.errors import BadInput, bare, quoted
from seedcore_cli.lint import rules, versions

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TABLE = "tool.seedcore.lint"
_LISTS = ("select", "ignore", "exclude", "extend-exclude", "scripts")
_KEYS = frozenset((*_LISTS, "per-file-ignores", "target-version", "respect-gitignore"))


@dataclass(frozen=True)
class Config:
    """Everything that decides what is checked and reported (plain data; globs as written)."""

    root: Path  # globs are relative to this directory
    source: str = ""  # the pyproject.toml read, '' for none
    select: list[str] | None = None  # None: ALL
    ignore: list[str] = field(default_factory=list)
    exclude: list[str] | None = None  # None: the default excludes
    extend_exclude: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    target: int = versions.RUNNING
    scripts: list[str] = field(default_factory=list)
    entry_points: list[str] = field(default_factory=list)  # `module:function` of [project.scripts]
    respect_gitignore: bool = True

    @property
    def rules(self) -> frozenset[str]:
        return rules.resolve(self.select, self.ignore)


@dataclass(frozen=True)
class Overrides:
    """What the command line says (None: not given)."""

    select: str | None = None
    ignore: str | None = None
    exclude: list[str] | None = None
    extend_exclude: list[str] | None = None
    target_version: str | None = None
    config: Path | None = None
    isolated: bool = False
    labels: dict[str, str] = field(default_factory=lambda: {
        "select": "the select option", "ignore": "the ignore option", "target_version": "the target version option",
        "config": "the config option"})


def load(paths: list[Path], given: Overrides = Overrides()) -> Config:
    """The configuration for a run over `paths`: the file's table with the command line on top."""
    start = _start(paths)
    found = None if given.isolated else (given.config or _nearest(start, lambda doc: _table(doc) is not None))
    document = _read(found, given.labels.get("config", "") if found == given.config else "") if found else {}
    table = _table(document) or {}
    _check_keys(table, found)
    base = _from_table(table, found.parent if found else start, str(found or ""))
    project = _project(given, document, start)
    target = _target(given, table, project, found)
    select = rules.split_codes(given.select) if given.select is not None else base.select
    return Config(
        root=base.root, source=base.source,
        select=rules.check_selectors(select, given.labels["select"] if given.select is not None
                                     else _where("select", base.source)) if select is not None else None,
        ignore=base.ignore + rules.check_selectors(rules.split_codes(given.ignore), given.labels["ignore"]),
        exclude=_globs(given.exclude) if given.exclude is not None else base.exclude,
        extend_exclude=base.extend_exclude + _globs(given.extend_exclude or []),
        respect_gitignore=base.respect_gitignore,
        per_file_ignores=base.per_file_ignores, target=target, scripts=base.scripts,
        entry_points=_entry_points(project))


def _start(paths: list[Path]) -> Path:
    first = Path(os.path.abspath(paths[0])) if paths else Path.cwd()
    try:
        return first if first.is_dir() else first.parent
    except (OSError, ValueError):  # a name too long: discovery says so
        return first.parent


def _nearest(start: Path, wanted: Any) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        try:
            if candidate.is_file() and wanted(_read(candidate)):
                return candidate
        except OSError:
            continue
        except BadInput:
            if wanted is not _any_document:
                raise
    return None


def _any_document(document: dict) -> bool:
    return isinstance(document.get("project"), dict)


def _read(path: Path, label: str = "") -> dict:
    """The TOML document; `label` names where the path came from (the config option) for messages."""
    origin = f" (from {label})" if label else ""
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except OSError as err:
        raise BadInput(f"cannot read {bare(str(path))}{origin}: {err.strerror or err}",
                       "pass a readable pyproject.toml") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"{bare(str(path))}{origin} is not valid TOML: {err}", "fix the file") from None


def _table(document: dict) -> dict | None:
    node: Any = document
    for key in TABLE.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _check_keys(table: dict, source: Path | None) -> None:
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise BadInput(f"unknown key {', '.join(quoted(k) for k in unknown)} in [{TABLE}] of {bare(str(source))}",
                       f"use {', '.join(sorted(_KEYS))}")


def _strings(table: dict, key: str, source: str) -> list[str] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadInput(f"{key} in [{TABLE}] of {bare(source)} must be a list of strings", f"e.g. {key} = [\"...\"]")
    return value


def _from_table(table: dict, root: Path, source: str) -> Config:
    lists = {key: _strings(table, key, source) for key in _LISTS}
    select = lists["select"]
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict) or not all(isinstance(v, list) for v in per_file.values()):
        raise BadInput(f"per-file-ignores in [{TABLE}] of {bare(source)} must map globs to lists of rules",
                       "e.g. \"tests/**\" = [\"SC001\"]")
    return Config(
        root=root, source=source,
        select=rules.check_selectors(rules.split_codes(select), _where("select", source)) if select is not None else None,
        ignore=rules.check_selectors(rules.split_codes(lists["ignore"]), _where("ignore", source)),
        exclude=lists["exclude"], extend_exclude=lists["extend-exclude"] or [],
        per_file_ignores={glob: rules.check_selectors(rules.split_codes(codes),
                                                      _where(f"per-file-ignores {quoted(glob)}", source))
                          for glob, codes in per_file.items()},
        scripts=lists["scripts"] or [], respect_gitignore=_flag(table, "respect-gitignore", source))


def _where(key: str, source: str) -> str:
    """Where a value of the table came from, for messages: the key and the file."""
    return f"{key} in [{TABLE}] of {bare(source)}"


def _flag(table: dict, key: str, source: str) -> bool:
    value = table.get(key, True)
    if not isinstance(value, bool):
        raise BadInput(f"{key} in [{TABLE}] of {bare(source)} must be true or false", f"e.g. {key} = false")
    return value


def _globs(given: list[str]) -> list[str]:
    """Globs from the command line: each value may hold several, comma-separated (as ruff takes them)."""
    return [glob.strip() for value in given for glob in value.split(",") if glob.strip()]


def _project(given: Overrides, document: dict, start: Path) -> dict:
    """The [project] table of the configuration's pyproject.toml, else of the nearest that has one."""
    project = document.get("project")
    if not isinstance(project, dict) and not given.isolated:
        nearest = _nearest(start, _any_document)
        project = _read(nearest).get("project") if nearest else None
    return project if isinstance(project, dict) else {}


def _target(given: Overrides, table: dict, project: dict, found: Path | None) -> int:
    """The command line's target version, else the table's target-version, else requires-python,
    else this Python."""
    if given.target_version is not None:
        return versions.parse_target(given.target_version, given.labels["target_version"])
    if "target-version" in table:
        value = table["target-version"]
        if not isinstance(value, str):  # 310 or 3.10 (a float: 3.1) would be guesses
            raise BadInput(f"target-version {value!r} in [{TABLE}] of {bare(str(found))} is not a string",
                           'write it as a string: target-version = "py310"')
        return versions.parse_target(value, _where("target-version", str(found)))
    spec = project.get("requires-python")
    minor = versions.from_requires_python(spec) if isinstance(spec, str) else None
    return max(minor, versions.OLDEST) if minor is not None else versions.RUNNING


def _entry_points(project: dict) -> list[str]:
    """`module:function` of the project's console and GUI scripts: entry points, like `__main__`."""
    found = []
    for key in ("scripts", "gui-scripts"):
        table = project.get(key)
        if isinstance(table, dict):
            found += [value.split("[")[0].strip() for value in table.values() if isinstance(value, str) and ":" in value]
    return found
