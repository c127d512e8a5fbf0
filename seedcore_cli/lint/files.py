"""Which files a run checks, what each one is (library, script, test), and how it is imported.

Discovery walks the paths given on the command line. Excludes (ruff's default list, or the
config's `exclude`, plus `extend-exclude`) and `.gitignore` files apply only to what is found
below those paths, never to a path given explicitly: `seedcore lint .venv/.../site-packages/ray`
checks Ray's package. Directory links are never followed (a link loop cannot trap the walk); file
links are, and a file reached twice is checked once (under its own name when both are found).
Nothing here raises for a file it finds: a link loop, a broken link, a special file or an
unreadable directory becomes a note ("not checked: ..."). Only a path given on the command line
that does not exist is bad input.

A file's module names are what an `import` elsewhere in the code base can call it: its dotted
path from the top of its regular package (directories with `__init__.py`), or, outside regular
packages, its dotted path from each directory between it and the path given (namespace packages,
script folders on sys.path).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from seedcore_cli.errors import BadInput, quoted
from seedcore_cli.lint.config import Config

LIBRARY, SCRIPT, TEST = "library", "script", "test"

DEFAULT_EXCLUDES = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache", ".nox",
    ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv", ".vscode",
    "__pycache__", "__pypackages__", "_build", "buck-out", "build", "dist", "node_modules", "site-packages",
    "venv",
)
_TEST_DIRS = frozenset(("tests", "test", "testing"))
_SCRIPT_DIRS = frozenset(("scripts", "bin", "examples", "benchmarks", "bench"))
_MAX_NAME_DEPTH = 8


@dataclass(frozen=True)
class Source:
    """One file to check."""

    path: str  # as findings name it
    role: str  # LIBRARY, SCRIPT or TEST (entry points and tests own their process)
    names: tuple[str, ...]  # the module names it can be imported as
    ignored: frozenset[str] = frozenset()  # per-file-ignores selectors that match it
    size: int = 0  # bytes (the scan hands out the largest files first)


@dataclass
class Discovery:
    sources: list[Source] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, why it was not checked)


class _Matcher:
    """Globs relative to the config's directory, gitignore-style (a name alone matches anywhere)."""

    def __init__(self, root: Path, globs: list[str]) -> None:
        self.root = str(root)
        self.names = frozenset(g for g in globs if not any(ch in g for ch in "/*?[!"))
        rest = [g for g in globs if g not in self.names]
        self.spec = pathspec.GitIgnoreSpec.from_lines(rest) if rest else None

    def matches(self, path: str, name: str, is_dir: bool = False) -> bool:
        if name in self.names:
            return True
        if self.spec is None:
            return False
        relative = os.path.relpath(path, self.root)
        if relative.startswith(".."):
            relative = os.path.abspath(path).lstrip("/")
        return self.spec.match_file(relative + ("/" if is_dir else ""))


class _GitIgnores:
    """The .gitignore files that apply to one directory: its own and its ancestors' (to the repo's top)."""

    def __init__(self) -> None:
        self.cache: dict[str, pathspec.GitIgnoreSpec | None] = {}

    def spec(self, folder: str) -> pathspec.GitIgnoreSpec | None:
        if folder not in self.cache:
            try:
                with open(os.path.join(folder, ".gitignore"), encoding="utf-8", errors="replace") as stream:
                    self.cache[folder] = pathspec.GitIgnoreSpec.from_lines(stream.read().splitlines())
            except OSError:
                self.cache[folder] = None
        return self.cache[folder]

    def chain(self, folder: str) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
        """The specs that apply below `folder` (outermost first), from the repository's top down.
        An ancestor's patterns that match `folder` itself (or a directory between) are dropped:
        a path given on the command line is checked, whatever ignores it."""
        chain, current = [], os.path.abspath(folder)
        top = current
        while True:
            spec = self.spec(current)
            if spec is not None:
                chain.append((current, spec if current == top else _without_matches(spec, current, top)))
            parent = os.path.dirname(current)
            if os.path.exists(os.path.join(current, ".git")) or parent == current:
                return chain[::-1]
            current = parent

    @staticmethod
    def ignored(chain: list[tuple[str, pathspec.GitIgnoreSpec]], path: str, is_dir: bool) -> bool:
        verdict = None
        for folder, spec in chain:
            result = spec.check_file(os.path.relpath(path, folder) + ("/" if is_dir else ""))
            if result.include is not None:
                verdict = result.include
        return bool(verdict)


def _without_matches(spec: pathspec.GitIgnoreSpec, folder: str, top: str) -> pathspec.GitIgnoreSpec:
    """`spec` (of `folder`) without the ignore patterns that match `top` or a directory between."""
    between, current = [], top
    while current != folder and current != os.path.dirname(current):
        between.append(os.path.relpath(current, folder) + "/")
        current = os.path.dirname(current)
    kept = [p for p in spec.patterns if not (p.include and any(p.match_file(d) is not None for d in between))]
    return pathspec.GitIgnoreSpec(kept)


class _Walker:
    def __init__(self, config: Config) -> None:
        self.config = config
        excludes = list(DEFAULT_EXCLUDES if config.exclude is None else config.exclude) + config.extend_exclude
        self.exclude = _Matcher(config.root, excludes)
        self.scripts = _Matcher(config.root, config.scripts)
        self.per_file = [(_Matcher(config.root, [glob]), frozenset(codes))
                         for glob, codes in config.per_file_ignores.items()]
        self.gitignores = _GitIgnores()
        self.chosen: dict[tuple[int, int], tuple[str, bool, tuple[str, ...], Path, int]] = {}
        self.notes: list[tuple[str, str]] = []
        self.has_init: dict[str, bool] = {}
        self.dotted: dict[str, str] = {}
        self.root = os.path.abspath(config.root)

    def given(self, raw: Path) -> None:
        path = str(raw)
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            if not os.path.islink(path):
                raise BadInput(f"path {quoted(path)} does not exist", "pass files or directories to scan") from None
            mode = 0  # a broken link: file() says so
        except (OSError, ValueError) as err:
            if getattr(err, "errno", None) != errno.ELOOP:
                raise BadInput(f"path {quoted(path)} is unusable ({getattr(err, 'strerror', None) or err})",
                               "pass files or directories to scan") from None
            mode = 0  # a link loop: file() says so
        if stat.S_ISDIR(mode):
            self.walk(path)
        else:
            cwd = os.getcwd()
            inside = not os.path.relpath(os.path.abspath(path), cwd).startswith("..")
            self.file(path, Path(cwd) if inside else Path(os.path.abspath(path)).parent, given=True)

    def walk(self, top: str) -> None:
        chain = self.gitignores.chain(top) if self.config.respect_gitignore else []
        stack: list[tuple[str, list[tuple[str, pathspec.GitIgnoreSpec]]]] = [(top, chain)]
        while stack:
            folder, chain = stack.pop()
            try:
                with os.scandir(folder) as found:
                    entries = sorted(found, key=lambda entry: entry.name)
            except OSError as err:
                self.notes.append((folder, f"not checked: cannot list the directory ({err.strerror or err})"))
                continue
            subdirs = self._entries(entries, chain, Path(top))
            for sub in reversed(subdirs):
                spec = self.gitignores.spec(sub) if self.config.respect_gitignore else None
                stack.append((sub, chain + [(sub, spec)] if spec is not None else chain))

    def _entries(self, entries: list[os.DirEntry], chain: list, top: Path) -> list[str]:
        subdirs = []
        for entry in entries:
            is_dir = _is_dir(entry)
            if not is_dir and not entry.name.endswith(".py"):
                continue
            if self.exclude.matches(entry.path, entry.name, is_dir) or (
                    chain and self.gitignores.ignored(chain, entry.path, is_dir)):
                continue
            path = entry.path.removeprefix("./")  # `lint .` names files as ruff does
            if is_dir:
                subdirs.append(path)
            else:
                self.file(path, top, given=False)
        return subdirs

    def file(self, path: str, top: Path, given: bool) -> None:
        try:
            info = os.stat(path)
        except OSError as err:
            reason = "a loop of symbolic links" if err.errno == errno.ELOOP else (
                "a broken symbolic link" if os.path.islink(path) else err.strerror or str(err))
            self.notes.append((path, f"not checked: {reason}"))
            return
        if not stat.S_ISREG(info.st_mode):
            if given or not stat.S_ISDIR(info.st_mode):
                self.notes.append((path, "not checked: not a regular file (a device, socket or pipe)"
                                   if not stat.S_ISDIR(info.st_mode) else "not checked: a directory"))
            return
        key = (info.st_dev, info.st_ino)
        link = os.path.islink(path)
        if key in self.chosen and not self.chosen[key][1]:
            return  # already found under its own name
        if key not in self.chosen or not link:
            self.chosen[key] = (path, link, self._parts(path, top), top, info.st_size)

    def _parts(self, path: str, top: Path) -> tuple[str, ...]:
        """The path's folders and name below the config's directory (else below the path given)."""
        absolute = os.path.abspath(path)
        for base in (self.root, os.path.abspath(top)):
            if absolute.startswith(base + os.sep):
                return tuple(absolute[len(base) + 1:].split(os.sep))
        return (os.path.basename(path),)

    def sources(self) -> list[Source]:
        return [self.source(path, parts, top, size) for path, _, parts, top, size in self.chosen.values()]

    def source(self, path: str, parts: tuple[str, ...], top: Path, size: int) -> Source:
        name = parts[-1]
        folders = set(parts[:-1])
        if name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py" or folders & _TEST_DIRS:
            role = TEST
        elif name == "__main__.py" or folders & _SCRIPT_DIRS or (
                self.config.scripts and self.scripts.matches(path, name)):
            role = SCRIPT
        else:
            role = LIBRARY
        ignored = frozenset(code for matcher, codes in self.per_file if matcher.matches(path, name) for code in codes)
        return Source(path, role, self.module_names(os.path.abspath(path), os.path.abspath(top)), ignored, size)

    def package(self, folder: str) -> bool:
        if folder not in self.has_init:
            self.has_init[folder] = os.path.isfile(os.path.join(folder, "__init__.py"))
        return self.has_init[folder]

    def package_name(self, folder: str) -> str:
        """A regular package's dotted name (its folder and the package folders above it)."""
        if folder not in self.dotted:
            parent = os.path.dirname(folder)
            name = os.path.basename(folder)
            self.dotted[folder] = f"{self.package_name(parent)}.{name}" if parent != folder and self.package(parent) \
                else name
        return self.dotted[folder]

    def module_names(self, path: str, top: str) -> tuple[str, ...]:
        folder, name = os.path.split(path)
        stem = name.removesuffix(".py")
        if self.package(folder):
            prefix = self.package_name(folder)
            return (prefix if stem == "__init__" else f"{prefix}.{stem}",)
        parts = [] if stem == "__init__" else [stem]
        names = [stem] if parts else []
        for _ in range(_MAX_NAME_DEPTH):
            if folder == top or not folder.startswith(top + os.sep):
                break
            parts.insert(0, os.path.basename(folder))
            folder = os.path.dirname(folder)
            names.append(".".join(parts))
        return tuple(names)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def discover(paths: list[Path], config: Config) -> Discovery:
    """The files to check under `paths`, in a stable order, and notes on those that cannot be."""
    walker = _Walker(config)
    for raw in paths:
        walker.given(raw)
    sources = sorted(walker.sources(), key=lambda source: source.path)
    return Discovery(sources, walker.notes)


def iter_names(sources: list[Source]) -> Iterator[tuple[str, Source]]:
    for source in sources:
        for name in source.names:
            yield name, source
