"""`seedcore lint`: a static (AST) scan of a Python code base for the patterns that cause Ray
connection conflicts (the rules: RULES below). It never imports Ray and never connects; paths
in, Findings out. "Import time" is code that runs when a module is imported: the module body and
class bodies, not function bodies or lambdas, and not `if __name__ == "__main__":` blocks.
"""

from __future__ import annotations

import ast
import gc
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

from seedcore_cli import pathkind
from seedcore_cli.errors import BadInput, quoted

ERROR, WARNING = "error", "warning"
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    rationale: str
    fix: str


RULES = {rule.id: rule for rule in (
    Rule("SC000", ERROR, "the file could not be checked", "fix the syntax error (or exclude the file)"),
    Rule("SC001", ERROR, "ray.init is called in more than one place; whichever runs second conflicts with the first",
         "route every connection through one connect() function and call it once at startup"),
    Rule("SC002", ERROR, "allow_multiple=True opens another Ray Client beside the existing one",
         "remove allow_multiple; share the one connection"),
    Rule("SC003", ERROR, "Ray is connected at import time, before the program chose its address and namespace",
         "connect in a startup function (main, an app factory, a lifespan hook), not at module level"),
    Rule("SC004", ERROR, "an object that needs Ray is built at import time, before Ray is connected",
         "build it lazily after connecting (in a startup function) and pass the connection in"),
    Rule("SC005", ERROR, "ray.get_actor runs at import time, before Ray is connected",
         "look the actor up after connecting, where it is used"),
    Rule("SC006", WARNING, "ignore_reinit_error=True hides a second ray.init instead of removing it",
         "remove the second ray.init and ignore_reinit_error"),
    Rule("SC007", WARNING, "a literal namespace bypasses the configured one (SEEDCORE_NS / RAY_NAMESPACE)",
         "take the namespace from the configuration, not a string literal"),
)}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    col: int
    rule: str
    severity: str
    message: str
    fix: str

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        """`path:line:col: SCnnn message`, as ruff and flake8 print it (editors and CI read it)."""
        return f"{self.path}:{self.line}:{self.col}: {self.rule} {self.message}"


def parse_rules(text: str | None, source: str) -> set[str]:
    """'SC001,SC004' -> {'SC001', 'SC004'}; an unknown id is bad input (exit 2)."""
    if not text:
        return set()
    wanted = {part.strip().upper() for part in text.split(",") if part.strip()}
    unknown = sorted(wanted - set(RULES))
    if unknown:
        raise BadInput(f"unknown rule {', '.join(unknown)} (from {source})", f"use rule ids {', '.join(RULES)}")
    return wanted


def lint(paths: Iterable[str | Path], select: set[str] = frozenset(), ignore: set[str] = frozenset()) -> list[Finding]:
    """Scan the Python files under `paths` (files or directories); findings sorted by place.

    Python's cyclic garbage collector is paused while the files are parsed (syntax trees hold no
    reference cycles, so reference counting frees each one; the collector would only re-walk
    millions of fresh nodes, a third of the time) and resumed afterwards.
    """
    files = python_files(paths)
    collecting = gc.isenabled()
    gc.disable()
    try:
        stems = {path.stem for path in files}  # the code base's own module names
        modules = [_Module.read(path, stems) for path in files]
    finally:
        if collecting:
            gc.enable()
    graph = _Graph(modules)
    findings = [finding for module in modules for finding in module.problems]
    sites = graph.init_sites()
    for module in modules:
        findings += module.findings(graph, sites)
    kept = [f for f in findings if (not select or f.rule in select) and f.rule not in ignore]
    return sorted(kept, key=lambda f: (f.path, f.line, f.col, f.rule))


def python_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every *.py file under the given paths, once each: symlinks are followed for files (a linked
    file and its target count once, under the target's own name when both are scanned) and never
    into directories, so a link loop cannot trap the scan. A path that does not exist is bad input."""
    chosen: dict[Path, Path] = {}
    for raw in paths:
        path = Path(raw)
        found = pathkind.kind(path)  # a name too long makes Path.exists() raise
        if found not in (pathkind.FILE, pathkind.DIRECTORY, pathkind.OTHER):
            raise BadInput(f"path {quoted(str(raw))} {pathkind.phrase(found)}", "pass files or directories to scan")
        for candidate in [path] if path.is_file() else _walk(path):
            real = candidate.resolve()
            if real.is_file() and (real not in chosen or chosen[real].is_symlink()):
                chosen[real] = candidate
    return list(chosen.values())


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):  # os.walk does not follow directory links
        dirs.sort()
        yield from (Path(root) / name for name in sorted(names) if name.endswith(".py"))


class _Module:
    """One file, read in a single pass over its syntax tree (`_scan`): what it says about Ray.

    Functions are keyed by name (top level: `connect`; methods: `Class.method`). Calls are kept
    as targets the code base can resolve: `f()` -> `f` (a function or a class), `self.m()` in a
    method of C -> `C.m`, `module.f()` -> `f`; calls on other objects (`x.get()`) are not followed.
    """

    def __init__(self, path: Path, stems: set[str] = frozenset()) -> None:
        self.path = path
        self.stems = stems
        self.label = str(path)
        self.problems: list[Finding] = []  # SC000 and the keyword rules (SC002, SC006, SC007)
        self.ray_names: set[str] = set()  # names bound to the ray module
        self.init_names: set[str] = set()  # names bound to ray.init
        self.get_actor_names: set[str] = set()
        self.imported: dict[str, str] = {}  # other names bound by imports -> the module they come from
        self.init_calls: list[tuple[ast.Call, str]] = []  # each ray.init, with its enclosing function
        self.import_time_calls: list[ast.Call] = []
        self.direct: set[str] = set()  # functions that call Ray themselves
        self.calls: dict[str, set[str]] = {}  # function -> call targets
        self.bases: dict[str, list[str]] = {}  # class -> base class names

    @classmethod
    def read(cls, path: Path, stems: set[str] = frozenset()) -> "_Module":
        module = cls(path, stems)
        try:
            if path.stat().st_size > MAX_BYTES:
                return module._skip(f"not checked: larger than {MAX_BYTES // (1024 * 1024)} MiB")
            data = path.read_bytes()
        except OSError as err:
            return module._skip(f"not checked: cannot read it ({err.strerror or err})")
        if b"\0" in data:
            return module._skip("not checked: a binary file, not Python source")
        try:
            tree = ast.parse(data, filename=str(path))
        except (SyntaxError, ValueError) as err:
            line, col = getattr(err, "lineno", None) or 1, getattr(err, "offset", None) or 1
            module.problems.append(Finding(module.label, line, col, "SC000", ERROR,
                                           f"syntax error: {getattr(err, 'msg', err)}", RULES["SC000"].fix))
            return module
        _scan(module, tree)
        return module

    def _skip(self, message: str) -> "_Module":
        self.problems.append(Finding(self.label, 1, 1, "SC000", WARNING, message, "exclude the file, or fix it"))
        return self

    def is_init(self, call: ast.Call) -> bool:
        return self._is_ray_attr(call.func, "init") or (isinstance(call.func, ast.Name) and call.func.id in self.init_names)

    def is_get_actor(self, call: ast.Call) -> bool:
        return self._is_ray_attr(call.func, "get_actor") or (
            isinstance(call.func, ast.Name) and call.func.id in self.get_actor_names)

    def _is_ray_attr(self, func: ast.expr, attr: str) -> bool:
        return (isinstance(func, ast.Attribute) and func.attr == attr and isinstance(func.value, ast.Name)
                and func.value.id in self.ray_names)

    def uses_ray(self, call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Attribute):
            return (isinstance(func.value, ast.Name) and func.value.id in self.ray_names) or \
                func.attr in ("remote", "get_actor")
        return isinstance(func, ast.Name) and func.id in self.init_names | self.get_actor_names

    def target(self, call: ast.Call, cls: str) -> str:
        """What the call resolves to in the code base ('' when it cannot be told)."""
        func = call.func
        if isinstance(func, ast.Name):  # a local name, or one imported from the code base
            source = self.imported.get(func.id)
            return func.id if source is None or self._ours(source) else ""
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id in ("self", "cls") and cls:
                return f"{cls}.{func.attr}"
            source = self.imported.get(func.value.id)
            if source is not None and self._ours(source):  # module.f() of one of our modules
                return func.attr
        return ""

    def _ours(self, dotted: str) -> bool:
        """Whether an imported module (or a name in it) belongs to the scanned code base."""
        parts = dotted.split(".")
        return any(part in self.stems for part in parts[-2:])

    def finding(self, node: ast.AST, rule: str, message: str) -> Finding:
        spec = RULES[rule]
        return Finding(self.label, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1, rule,
                       spec.severity, message, spec.fix)

    def findings(self, graph: "_Graph", sites: list[tuple["_Module", ast.Call]]) -> list[Finding]:
        found: list[Finding] = []
        if len(sites) > 1:
            for node, _ in self.init_calls:
                others = [f"{m.label}:{n.lineno}" for m, n in sites if n is not node]
                found.append(self.finding(node, "SC001", f"ray.init is called in {len(sites)} places; "
                                                         f"the others: {', '.join(others[:5])}"
                                                         + (f" and {len(others) - 5} more" if len(others) > 5 else "")))
        for node in self.import_time_calls:
            target = self.target(node, "")
            if self.is_init(node):
                found.append(self.finding(node, "SC003", "ray.init runs at import time"))
            elif self.is_get_actor(node):
                found.append(self.finding(node, "SC005", "ray.get_actor runs at import time"))
            elif target in graph.ray_classes:
                found.append(self.finding(node, "SC004", f"{target}() is built at import time and its __init__ "
                                                         "uses Ray"))
            elif target in graph.connectors:
                found.append(self.finding(node, "SC003", f"{target}() connects to Ray at import time"))
        return found


class _Graph:
    """The code base's call graph, by name: which functions connect (call ray.init, directly or
    through others) and which classes' __init__ use Ray (directly, through others, or inherited)."""

    def __init__(self, modules: list[_Module]) -> None:
        self.modules = modules
        calls: dict[str, set[str]] = {}
        bases: dict[str, list[str]] = {}
        for module in modules:
            for key, targets in module.calls.items():
                calls.setdefault(key, set()).update(targets)
            bases.update(module.bases)
        self.bases = bases
        self.own_inits = {key for key in calls if key.endswith(".__init__")}
        callers: dict[str, set[str]] = {}
        for key, targets in calls.items():
            for target in targets:
                callers.setdefault(self.resolve(target), set()).add(key)
        connecting = {key for module in modules for _, key in module.init_calls if key}
        self.connectors = _spread(connecting, callers)
        self.using = _spread({key for module in modules for key in module.direct}, callers)
        self.ray_classes = {cls for cls in bases if self.resolve(cls) in self.using}

    def resolve(self, target: str) -> str:
        """A class name -> the key of the __init__ it runs (its own or the nearest base's)."""
        seen: set[str] = set()
        cls = target
        while cls in self.bases and cls not in seen:
            seen.add(cls)
            if f"{cls}.__init__" in self.own_inits:
                return f"{cls}.__init__"
            cls = next((base for base in self.bases[cls] if base in self.bases), "")
        return target

    def init_sites(self) -> list[tuple[_Module, ast.Call]]:
        """One site per function that calls ray.init (its first call), and each module-level call."""
        sites, seen = [], set()
        for module in self.modules:
            for node, key in module.init_calls:
                if key and (module.label, key) in seen:
                    continue
                seen.add((module.label, key))
                sites.append((module, node))
        return sites


def _spread(start: set[str], callers: dict[str, set[str]]) -> set[str]:
    """Everything that calls something in `start`, transitively."""
    found, todo = set(start), list(start)
    while todo:
        for caller in callers.get(todo.pop(), ()):
            if caller not in found:
                found.add(caller)
                todo.append(caller)
    return found


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SKIP = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop, ast.Constant, ast.Name, ast.alias)
_NOT_IMPORT_TIME = "<deferred>"  # a lambda at module level, or an `if __name__ == "__main__":` block


def _scan(module: _Module, tree: ast.Module) -> None:
    """One pass over a module (an explicit stack, about twice as fast as ast.NodeVisitor on large
    trees). A node's context: (the function it runs in, '' at import time; the class whose body
    it is in, '' elsewhere; the class of the enclosing method, for self.m() calls)."""
    stack: list[tuple[ast.AST, str, str, str]] = [(node, "", "", "") for node in reversed(tree.body)]
    pop, push = stack.pop, stack.append
    while stack:
        node, owner, body_of, method_of = pop()
        kind = type(node)
        if kind is ast.Call:
            _call(module, node, owner, method_of)
        elif kind in _FUNCTIONS:
            for extra in (*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)):
                push((extra, owner, body_of, method_of))  # these run where the function is defined
            key = f"{body_of}.{node.name}" if body_of else node.name
            module.calls.setdefault(key, set())
            for statement in reversed(node.body):
                push((statement, key, "", body_of or method_of))
            continue
        elif kind is ast.ClassDef:
            module.bases[node.name] = [b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                                       if isinstance(b, (ast.Name, ast.Attribute))]
            for extra in (*node.decorator_list, *node.bases):
                push((extra, owner, body_of, method_of))
            for statement in reversed(node.body):
                push((statement, owner, node.name, method_of))
            continue
        elif kind is ast.Lambda:  # runs when called: with its enclosing function, never on import
            push((node.body, owner or _NOT_IMPORT_TIME, "", method_of))
            continue
        elif kind is ast.If and not owner and _is_main_guard(node.test):
            for statement in reversed(node.orelse):
                push((statement, owner, body_of, method_of))
            for statement in reversed(node.body):  # runs as a script, not on import
                push((statement, _NOT_IMPORT_TIME, "", method_of))
            continue
        elif kind is ast.Import:
            for alias in node.names:
                top = alias.name.split(".", 1)[0]
                if alias.name == "ray" or (top == "ray" and not alias.asname):  # `import ray.util` binds ray
                    module.ray_names.add(alias.asname or "ray")
                else:
                    module.imported[alias.asname or top] = alias.name if alias.asname else top
            continue
        elif kind is ast.ImportFrom:
            for alias in node.names:
                if node.module == "ray" and alias.name == "init":
                    module.init_names.add(alias.asname or "init")
                elif node.module == "ray" and alias.name == "get_actor":
                    module.get_actor_names.add(alias.asname or "get_actor")
                else:
                    module.imported[alias.asname or alias.name] = f"{node.module or ''}.{alias.name}"
            continue
        for child in reversed(list(ast.iter_child_nodes(node))):
            if not isinstance(child, _SKIP):
                push((child, owner, body_of, method_of))


def _call(module: _Module, node: ast.Call, owner: str, method_of: str) -> None:
    real_owner = "" if owner == _NOT_IMPORT_TIME else owner
    is_init = module.is_init(node)
    if is_init:
        module.init_calls.append((node, real_owner))
    if not owner:
        module.import_time_calls.append(node)
    elif real_owner:
        target = module.target(node, method_of)
        if target:
            module.calls[real_owner].add(target)
        if module.uses_ray(node):
            module.direct.add(real_owner)
    if node.keywords:
        _keywords(module, node, is_init)


def _keywords(module: _Module, node: ast.Call, is_init: bool) -> None:
    for keyword in node.keywords:
        literal_true = isinstance(keyword.value, ast.Constant) and keyword.value.value is True
        if is_init and keyword.arg == "allow_multiple" and literal_true:
            module.problems.append(module.finding(node, "SC002", "allow_multiple=True passed to ray.init"))
        elif is_init and keyword.arg == "ignore_reinit_error" and literal_true:
            module.problems.append(module.finding(node, "SC006", "ignore_reinit_error=True passed to ray.init"))
        elif keyword.arg == "namespace" and isinstance(keyword.value, ast.Constant) and isinstance(
                keyword.value.value, str) and (is_init or module.is_get_actor(node) or _callee(node) == "options"):
            module.problems.append(module.finding(
                node, "SC007", f"literal namespace={keyword.value.value!r} in "
                               f"{'ray.init' if is_init else _callee(node)}()"))


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))
