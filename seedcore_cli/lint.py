"""`seedcore lint`: a static (AST) scan of a Python code base for the patterns that cause Ray
connection conflicts. It never imports Ray and never connects. Pure: paths in, Findings out.

Rules (each: an id, a one-line rationale, a fix):

- SC000 a file that cannot be read or parsed (syntax error: error; binary, huge, unreadable: warning)
- SC001 `ray.init` called in more than one place: each site, with the others listed
- SC002 `allow_multiple=True`: several clients in one process, each in its own namespace
- SC003 `ray.init` or a connector (a function of the code base that calls `ray.init`) at import time
- SC004 a module-level instance of a class whose `__init__` uses Ray (directly, or through
        functions of the code base): the import-time `OrganismManager()` pattern
- SC005 `ray.get_actor` at import time
- SC006 `ignore_reinit_error=True` hides a second `ray.init` (warning)
- SC007 a literal `namespace=` in `ray.init` / `get_actor` / `.options` bypasses the environment (warning)

"Import time" is code that runs when the module is imported: the module body and class bodies,
not function bodies, and not `if __name__ == "__main__":` blocks.
"""

from __future__ import annotations

import ast
import gc
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

from seedcore_cli.errors import BadInput

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
    """Scan the Python files under `paths` (files or directories); findings sorted by place."""
    files = python_files(paths)
    # Syntax trees hold no reference cycles, so reference counting frees each one after its scan;
    # the cyclic collector would only re-walk millions of fresh nodes (a third of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        modules = [_Module.read(path) for path in files]
    finally:
        if collecting:
            gc.enable()
    findings = [finding for module in modules for finding in module.problems]
    init_sites = [(module, node) for module in modules for node, _ in module.init_calls]
    connectors = {key.rsplit(".", 1)[-1] for module in modules for _, key in module.init_calls if key}
    ray_users = _ray_users(modules)
    for module in modules:
        findings += module.findings(connectors, ray_users, init_sites)
    kept = [f for f in findings if (not select or f.rule in select) and f.rule not in ignore]
    return sorted(kept, key=lambda f: (f.path, f.line, f.col, f.rule))


def python_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every *.py file under the given paths, once each: symlinks are followed for files (a linked
    file and its target count once, under the target's own name when both are scanned) and never
    into directories, so a link loop cannot trap the scan. A path that does not exist is bad input."""
    chosen: dict[Path, Path] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise BadInput(f"path {str(raw)[:200]!r} does not exist", "pass files or directories to scan")
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
    """One file, read in a single pass over its syntax tree (`_scan`): what it says about Ray."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)
        self.problems: list[Finding] = []  # SC000 and the keyword rules (SC002, SC006, SC007)
        self.ray_names: set[str] = set()  # names bound to the ray module
        self.init_names: set[str] = set()  # names bound to ray.init
        self.get_actor_names: set[str] = set()
        self.init_calls: list[tuple[ast.Call, str]] = []  # each ray.init, with its enclosing function
        self.import_time_calls: list[ast.Call] = []
        self.direct: set[str] = set()  # functions (and Class.__init__) that call Ray themselves
        self.calls: dict[str, set[str]] = {}  # function -> the names it calls
        self.inits: dict[str, str] = {}  # class -> its "Class.__init__" key

    @classmethod
    def read(cls, path: Path) -> "_Module":
        module = cls(path)
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

    def finding(self, node: ast.AST, rule: str, message: str) -> Finding:
        spec = RULES[rule]
        return Finding(self.label, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1, rule,
                       spec.severity, message, spec.fix)

    def findings(self, connectors: set[str], ray_users: set[str], init_sites: list) -> list[Finding]:
        found: list[Finding] = []
        if len(init_sites) > 1:
            for node, _ in self.init_calls:
                others = [f"{m.label}:{n.lineno}" for m, n in init_sites if n is not node]
                found.append(self.finding(node, "SC001", f"ray.init is called in {len(init_sites)} places; "
                                                         f"the others: {', '.join(others[:5])}"
                                                         + (f" and {len(others) - 5} more" if len(others) > 5 else "")))
        for node in self.import_time_calls:
            name = _callee(node)
            if self.is_init(node):
                found.append(self.finding(node, "SC003", "ray.init runs at import time"))
            elif name in connectors:
                found.append(self.finding(node, "SC003", f"{name}() connects to Ray at import time"))
            elif self.is_get_actor(node):
                found.append(self.finding(node, "SC005", "ray.get_actor runs at import time"))
            elif name in ray_users:
                found.append(self.finding(node, "SC004", f"{name}() is built at import time and its __init__ uses Ray"))
        return found


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SKIP = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop, ast.Constant, ast.Name, ast.alias)


def _scan(module: _Module, tree: ast.Module) -> None:
    """One pass over a module (an explicit stack, about twice as fast as ast.NodeVisitor on large
    trees): bindings of ray, every call attributed to its innermost function (or to import time),
    and the keyword rules. The context of a node is (function key or '', class name or '')."""
    stack: list[tuple[ast.AST, str, str]] = [(node, "", "") for node in reversed(tree.body)]
    pop, push = stack.pop, stack.append
    while stack:
        node, owner, cls = pop()
        kind = type(node)
        if kind is ast.Call:
            _call(module, node, owner)
        elif kind in _FUNCTIONS:
            for extra in (*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)):
                push((extra, owner, cls))  # these run where the function is defined
            key = f"{cls}.__init__" if node.name == "__init__" and cls and not owner else node.name
            if key.endswith(".__init__"):
                module.inits[cls] = key
            module.calls.setdefault(key, set())
            for statement in reversed(node.body):
                push((statement, key, ""))
            continue
        elif kind is ast.ClassDef:
            for extra in (*node.decorator_list, *node.bases):
                push((extra, owner, cls))
            for statement in reversed(node.body):
                push((statement, owner, node.name))
            continue
        elif kind is ast.Lambda:
            push((node.body, "<lambda>", ""))
            continue
        elif kind is ast.If and not owner and _is_main_guard(node.test):
            for statement in reversed(node.orelse):
                push((statement, owner, cls))
            for statement in reversed(node.body):  # runs as a script, not on import
                push((statement, "<main>", ""))
            continue
        elif kind is ast.Import:
            module.ray_names.update(alias.asname or "ray" for alias in node.names if alias.name == "ray")
            continue
        elif kind is ast.ImportFrom:
            if node.module == "ray":
                for alias in node.names:
                    if alias.name == "init":
                        module.init_names.add(alias.asname or "init")
                    elif alias.name == "get_actor":
                        module.get_actor_names.add(alias.asname or "get_actor")
            continue
        for child in reversed(list(ast.iter_child_nodes(node))):
            if not isinstance(child, _SKIP):
                push((child, owner, cls))


def _call(module: _Module, node: ast.Call, owner: str) -> None:
    if module.is_init(node):
        module.init_calls.append((node, owner if owner not in ("<lambda>", "<main>") else ""))
    if not owner:
        module.import_time_calls.append(node)
    elif owner not in ("<lambda>", "<main>"):
        module.calls[owner].add(_callee(node))
        if module.uses_ray(node):
            module.direct.add(owner)
    if node.keywords:
        _keywords(module, node)


def _keywords(module: _Module, node: ast.Call) -> None:
    is_init = module.is_init(node)
    for keyword in node.keywords:
        literal_true = isinstance(keyword.value, ast.Constant) and keyword.value.value is True
        if is_init and keyword.arg == "allow_multiple" and literal_true:
            module.problems.append(module.finding(node, "SC002", "ray.init(allow_multiple=True)"))
        elif is_init and keyword.arg == "ignore_reinit_error" and literal_true:
            module.problems.append(module.finding(node, "SC006", "ray.init(ignore_reinit_error=True)"))
        elif keyword.arg == "namespace" and isinstance(keyword.value, ast.Constant) and isinstance(
                keyword.value.value, str) and (is_init or module.is_get_actor(node) or _callee(node) == "options"):
            module.problems.append(module.finding(
                node, "SC007", f"literal namespace={keyword.value.value!r} in "
                               f"{'ray.init' if is_init else _callee(node)}()"))


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _ray_users(modules: list[_Module]) -> set[str]:
    """Classes whose __init__ uses Ray, directly or through the code base's functions (by name;
    a call to a class counts as a call to its __init__)."""
    calls: dict[str, set[str]] = {}
    inits: dict[str, str] = {}
    using: set[str] = set()
    for module in modules:
        for key, called in module.calls.items():
            calls.setdefault(key, set()).update(called)
        inits.update(module.inits)
        using |= module.direct
    callers: dict[str, set[str]] = {}  # callee name -> the functions that call it
    for key, called in calls.items():
        for name in called:
            callers.setdefault(inits.get(name, name), set()).add(key)
    todo = list(using)
    while todo:  # spread "uses Ray" from each user to whatever calls it
        for caller in callers.get(todo.pop(), ()):
            if caller not in using:
                using.add(caller)
                todo.append(caller)
    return {cls for cls, key in inits.items() if key in using}


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))
