"""The cross-file analysis: every file's Facts together give the code base's findings.

Names resolve through the module index (each file's module names, files.Source.names) and each
module's own names: `pkg.conn.connect` is the function `connect` of the module `pkg.conn`
(following re-exports), `.Manager.start` a method of this module's class, with inheritance.
What does not resolve is outside the code base and never matched by bare name: psutil's
`debug()` is not the `ray debug` command, stdlib `queue.Queue` is not `ray.util.queue.Queue`.

Sites and entry points: library code that calls `ray.init` is a connect site, one per function
(or module body), reported at its first call. Entry points own their process and are not sites:
files that are scripts or tests (files.Source.role), the `__main__` block, CLI commands and the
project's console scripts ([project.scripts]), and the functions of their module that only they
reach.
"""

from __future__ import annotations

from dataclasses import dataclass

from seedcore_cli.errors import first_of
from seedcore_cli.lint.files import LIBRARY, SCRIPT, TEST, Source
from seedcore_cli.lint.model import Finding
from seedcore_cli.lint.rules import ERROR, RULES
from seedcore_cli.lint.scanner import DEFERRED, MAIN, Facts, Pos

FUNC, CLASS = "func", "class"
_MAX_HOPS = 8  # re-exports followed from one import


@dataclass(frozen=True)
class Target:
    kind: str  # FUNC or CLASS
    module: int
    key: str  # 'connect', 'Manager', 'Manager.start'

    @property
    def node(self) -> str:
        return f"{self.module}:{self.key}"


class CodeBase:
    """The modules, their names, and the resolved call graph."""

    def __init__(self, sources: list[Source], facts: list[Facts], entry_points: list[str] | None = None) -> None:
        self.sources = sources
        self.facts = facts
        self.entry_points = entry_points or []  # `module:function` of the project's console scripts
        self.index: dict[str, list[int]] = {}
        for number, source in enumerate(sources):
            for name in source.names:
                self.index.setdefault(name, []).append(number)
        self.callers: dict[str, set[str]] = {}
        self.outside_callers: set[str] = set()  # nodes called from another module
        for number, module in enumerate(facts):
            for key, refs in module.calls.items():
                for ref in refs:
                    self._edge(number, f"{number}:{key}", ref)
            for ref, _ in module.import_time:
                self._edge(number, f"{number}:<module>", ref)
        connecting = {f"{n}:{owner}" for n, m in enumerate(facts) for owner, _, _ in m.inits
                      if owner and owner not in (MAIN, DEFERRED)}
        self.connectors = _spread(connecting, self.callers)
        self.using = _spread({f"{n}:{key}" for n, m in enumerate(facts) for key in m.uses_ray}, self.callers)

    def _edge(self, number: int, caller: str, ref: str) -> None:
        target = self.resolve(number, ref)
        if target is None:
            return
        callee = self.init_of(target) if target.kind == CLASS else target.node
        if callee:
            self.callers.setdefault(callee, set()).add(caller)
            if target.module != number:
                self.outside_callers.add(callee)

    # -- names -----------------------------------------------------------------------------

    def resolve(self, number: int, ref: str, hops: int = 0) -> Target | None:
        if not ref or hops > _MAX_HOPS:
            return None
        if ref[0] == ".":
            return self._in_module(number, ref[1:].split("."), hops)
        if ref[0] == "#":
            return Target(FUNC, number, ref[1:]) if ref[1:] in self.facts[number].calls else None
        if ref == "=ray" or ref.startswith("=ray."):
            return None  # Ray's API is judged by the rule table, never by its implementation
        if ref[0] == "^":
            cls, _, method = ref[1:].rpartition(".")
            return self._inherited(number, cls, method, set(), skip_own=True)
        return self._absolute(number, ref[1:].split("."), hops)

    def _absolute(self, number: int, parts: list[str], hops: int) -> Target | None:
        for cut in range(len(parts), 0, -1):
            modules = self.index.get(".".join(parts[:cut]))
            if modules:
                module = self._closest(number, modules)
                return self._in_module(module, parts[cut:], hops) if cut < len(parts) else None
        return None

    def _closest(self, number: int, modules: list[int]) -> int:
        if len(modules) == 1:
            return modules[0]
        here = self.sources[number].path.split("/")
        return max(modules, key=lambda m: (_common(here, self.sources[m].path.split("/")), -m))

    def _in_module(self, number: int, parts: list[str], hops: int) -> Target | None:
        if not parts:
            return None
        what = self.facts[number].names.get(parts[0])
        if what == "def":
            return Target(FUNC, number, parts[0]) if len(parts) == 1 else None
        if what == "class":
            return self._class_member(number, parts)
        if what and what[0] == "=":
            return self.resolve(number, ".".join([what, *parts[1:]]), hops + 1)
        return None

    def _class_member(self, number: int, parts: list[str]) -> Target | None:
        if len(parts) == 1:
            return Target(CLASS, number, parts[0])
        nested = ".".join(parts)
        if nested in self.facts[number].bases:
            return Target(CLASS, number, nested)
        cls, method = ".".join(parts[:-1]), parts[-1]
        return self._inherited(number, cls, method, set(), skip_own=False)

    def _inherited(self, number: int, cls: str, method: str, seen: set[str], skip_own: bool) -> Target | None:
        """`cls.method` as Python finds it: the class's own, else its bases' (depth first)."""
        node = f"{number}:{cls}"
        if node in seen or len(seen) > 50:
            return None
        seen.add(node)
        if not skip_own and f"{cls}.{method}" in self.facts[number].calls:
            return Target(FUNC, number, f"{cls}.{method}")
        for base_ref in self.facts[number].bases.get(cls, ()):
            base = self.resolve(number, base_ref)
            if base is not None and base.kind == CLASS:
                found = self._inherited(base.module, base.key, method, seen, skip_own=False)
                if found is not None:
                    return found
        return None

    def init_of(self, target: Target) -> str:
        """The node of the __init__ a class runs ('' for object's)."""
        found = self._inherited(target.module, target.key, "__init__", set(), skip_own=False)
        return found.node if found else ""

    # -- rules -----------------------------------------------------------------------------

    def entry_functions(self, number: int) -> set[str]:
        """Keys of the module's entry points: CLI commands, and the functions that only they or the
        `__main__` block reach."""
        module = self.facts[number]
        todo = [t for t in (self.resolve(number, ref) for ref in module.main_calls) if t is not None and t.module == number]
        todo += [Target(FUNC, number, key) for key in module.commands]
        todo += [t for t in (self.resolve(number, "=" + entry.replace(":", ".")) for entry in self.entry_points)
                 if t is not None and t.module == number]
        found: set[str] = set()
        while todo:
            target = todo.pop()
            node = self.init_of(target) if target.kind == CLASS else target.node
            key = node.partition(":")[2]
            if not node or key in found or node in self.outside_callers:
                continue
            found.add(key)
            todo.extend(t for t in (self.resolve(number, ref) for ref in self.facts[number].calls.get(key, ()))
                        if t is not None and t.module == number)
        return found

    def findings(self) -> list[Finding]:
        entries = [self.entry_functions(n) if s.role == LIBRARY else set() for n, s in enumerate(self.sources)]
        found = self.sites(entries)
        for number, (source, module) in enumerate(zip(self.sources, self.facts)):
            found += [Finding(source.path, *_start(pos), "SC000", severity, message,
                              RULES["SC000"].fix if severity == ERROR else "exclude the file, or fix it", *_end(pos))
                      for severity, message, pos in module.problems]
            found += self.keyword_findings(source, module, entries[number])
            if source.role == LIBRARY:
                found += self.import_time_findings(number)
        return found

    def sites(self, entries: list[set[str]]) -> list[Finding]:
        """SC001: one finding per library site (its first ray.init) when there is more than one."""
        first: dict[tuple[int, str], Pos] = {}
        for number, (source, module) in enumerate(zip(self.sources, self.facts)):
            if source.role != LIBRARY:
                continue
            for owner, pos, _ in module.inits:
                if owner == MAIN or owner in entries[number]:
                    continue
                site = (number, owner.partition(".<locals>.")[0] or "<module>")  # nested: its parent's site
                if site not in first or pos < first[site]:
                    first[site] = pos
        if len(first) < 2:
            return []
        places = sorted(first.items(), key=lambda item: (self.sources[item[0][0]].path, item[1]))
        found = []
        for site, pos in places:
            others = [f"{self.sources[n].path}:{p[0]} ({_label(owner)})" for (n, owner), p in places if (n, owner) != site]
            found.append(self._finding(site[0], pos, "SC001", f"ray.init is called in {len(places)} places "
                                       f"(one per function); the others: {first_of(others, 5)}"))
        return found

    def keyword_findings(self, source: Source, module: Facts, entries: set[str]) -> list[Finding]:
        found = []
        for rule, message, pos, owner in module.keywords:
            entry = source.role != LIBRARY or owner == MAIN or owner in entries
            if source.role == TEST or (entry and rule != "SC007"):
                continue
            found.append(Finding(source.path, *_start(pos), rule, RULES[rule].severity, message, RULES[rule].fix,
                                 *_end(pos)))
        return found

    def import_time_findings(self, number: int) -> list[Finding]:
        found = []
        for ref, pos in self.facts[number].import_time:
            rule_message = self._import_time(number, ref)
            if rule_message:
                found.append(self._finding(number, pos, *rule_message))
        return found

    def _import_time(self, number: int, ref: str) -> tuple[str, str] | None:
        if ref == "=ray.init":
            return "SC003", "ray.init runs at import time"
        if ref == "=ray.get_actor":
            return "SC005", "ray.get_actor runs at import time"
        target = self.resolve(number, ref)
        if target is None:
            return None
        name = target.key
        if target.kind == CLASS and self.init_of(target) in self.using:
            return "SC004", f"{name}() is built at import time and its __init__ uses Ray"
        if target.kind == FUNC and target.node in self.connectors:
            return "SC003", f"{name}() connects to Ray at import time"
        return None

    def _finding(self, number: int, pos: Pos, rule: str, message: str) -> Finding:
        spec = RULES[rule]
        return Finding(self.sources[number].path, *_start(pos), rule, spec.severity, message, spec.fix, *_end(pos))


def _start(pos: Pos) -> tuple[int, int]:
    return pos[0], pos[1]


def _end(pos: Pos) -> tuple[int, int]:
    return pos[2], pos[3]


def _label(owner: str) -> str:
    return "module body" if owner == "<module>" else f"{owner}()"


def _common(left: list[str], right: list[str]) -> int:
    count = 0
    for a, b in zip(left, right):
        if a != b:
            break
        count += 1
    return count


def _spread(start: set[str], callers: dict[str, set[str]]) -> set[str]:
    """Everything that calls something in `start`, transitively."""
    found, todo = set(start), list(start)
    while todo:
        for caller in callers.get(todo.pop(), ()):
            if caller not in found:
                found.add(caller)
                todo.append(caller)
    return found


__all__ = ["SCRIPT", "TEST", "CodeBase"]
