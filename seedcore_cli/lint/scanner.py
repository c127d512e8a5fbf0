"""One file in, its Facts out: what the file says about Ray, ready for the cross-file analysis.

A single pass over the syntax tree with an explicit stack (about twice as fast as
ast.NodeVisitor). Facts are plain, picklable data (no syntax nodes), so files can be scanned in
worker processes. Names are resolved here through the file's imports: a call's target is an
absolute dotted name (`ray.init`, `pkg.conn.connect`), a name of this module (`.connect`,
`.Manager.start`), or a base-class method (`^Manager.__init__`); anything else (a local
variable's method, a builtin) is not recorded, so nothing is ever matched by bare name.

"Import time" is code that runs when the module is imported: the module body and class bodies,
decorators, default values and base classes; not function bodies, lambdas, or
`if __name__ == "__main__":` blocks (the `<main>` owner). Positions are 1-based lines and
character (not byte) columns (source.Columns). Nothing here raises for a file's content:
source.read and source.parse turn unreadable, binary, huge, unparseable or newer-syntax files
into SC000 problems.
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from seedcore_cli.lint import kwargs, source
from seedcore_cli.lint.source import MAX_BYTES, Pos

__all__ = ["MAX_BYTES", "Facts", "Pos", "Task", "scan", "scan_many"]

_BUGS: tuple[type[Exception], ...] = (Exception,)  # anything a file makes the scanner raise is a bug
MAIN = "<main>"  # the owner of code in an `if __name__ == "__main__":` block
DEFERRED = "<deferred>"  # a lambda at module level: runs when called, not on import


# Ray's API that needs a connection (or makes one on its own): calling it "uses Ray".
_NEEDS_RAY = frozenset((
    "ray.init", "ray.get", "ray.put", "ray.wait", "ray.get_actor", "ray.kill", "ray.cancel", "ray.nodes",
    "ray.cluster_resources", "ray.available_resources", "ray.get_runtime_context", "ray.get_gpu_ids",
    "ray.timeline", "ray.util.list_named_actors", "ray.util.queue.Queue", "ray.serve.run", "ray.serve.start",
    "ray.serve.get_app_handle", "ray.serve.get_deployment_handle", "ray.serve.status", "ray.serve.delete",
))
_NEEDS_RAY_PREFIXES = ("ray.util.state.", "ray.data.read_", "ray.data.from_")


@dataclass
class Facts:
    path: str
    problems: list[tuple[str, str, Pos]] = field(default_factory=list)  # SC000: (severity, message, where)
    shebang: bool = False
    names: dict[str, str] = field(default_factory=dict)  # module-level name -> what it is ('def', 'class', or a ref)
    calls: dict[str, set[str]] = field(default_factory=dict)  # function key -> refs it calls
    bases: dict[str, list[str]] = field(default_factory=dict)  # class key -> base refs
    uses_ray: set[str] = field(default_factory=set)  # function keys that call Ray's API themselves
    inits: list[tuple[str, Pos, bool]] = field(default_factory=list)  # ray.init: (owner, where, guarded)
    import_time: list[tuple[str, Pos]] = field(default_factory=list)  # (ref, where) of calls on import
    main_calls: set[str] = field(default_factory=set)  # refs called from the `__main__` block
    commands: set[str] = field(default_factory=set)  # function keys decorated as CLI commands (entry points)
    keywords: list[tuple[str, str, Pos, str]] = field(default_factory=list)  # (rule, message, where, owner)
    noqa: dict[int, frozenset[str] | None] = field(default_factory=dict)  # line -> codes (None: all)
    internal: str = ""  # a bug met while scanning the file (the run exits 2)


@dataclass(frozen=True)
class Task:
    path: str
    module: str  # the dotted name relative imports start from
    is_package: bool  # an __init__.py
    target: int  # the target Python minor


def scan(task: Task) -> Facts:
    """The facts of one file; never raises (a bug is recorded as the file's `internal` error)."""
    try:
        return _scan(task)
    except _BUGS as err:  # reported as an internal error; the other files are still checked
        return Facts(task.path, internal=f"{type(err).__name__}: {err}")


def scan_many(tasks: list[Task]) -> list[Facts]:
    """Facts of each file in order. Python's own warnings about a file's code (SyntaxWarning:
    invalid escape sequence, ...) are the file's business, not lines on lint's stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [scan(task) for task in tasks]


def _scan(task: Task) -> Facts:
    facts = Facts(task.path)
    data = source.read(task.path, facts.problems)
    if data is None:
        return facts
    facts.shebang = data.startswith(b"#!")
    tree = source.parse(data, task.path, task.target, facts.problems)
    if tree is None:
        return facts
    columns = source.Columns(data)
    _Scanner(facts, task, columns).run(tree)
    if b"noqa" in data or b"NOQA" in data:
        facts.noqa = source.noqa_comments(columns.text())
    return facts


# A node's context while scanning: (owner, class body, method's class, guarded, scope).
# owner: the function key the code runs in ('' at import time, MAIN, DEFERRED); class body: the
# class whose body this is ('' elsewhere); guarded: under `if not ray.is_initialized():`;
# scope: the function (or module) node, where `**kwargs` dicts are looked up.
Context = tuple[str, str, str, bool, ast.AST]
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_LEAVES = frozenset((ast.Constant, ast.Name, ast.Load, ast.Store, ast.Del, ast.alias, ast.Pass, ast.Break,
                     ast.Continue, ast.Global, ast.Nonlocal, str, int, bool, ast.Eq, ast.NotEq, ast.Is, ast.IsNot,
                     ast.In, ast.NotIn, ast.Lt, ast.LtE, ast.Gt, ast.GtE))
_NOT_NODES = frozenset(("ctx", "op", "ops", "id", "attr", "name", "arg", "module", "level", "asname", "kind", "value_str",
                        "type_comment", "conversion", "is_async", "simple", "names", "lineno", "col_offset",
                        "end_lineno", "end_col_offset", "tag"))
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(kind: type) -> tuple[str, ...]:
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = tuple(name for name in getattr(kind, "_fields", ()) if name not in _NOT_NODES)
    return fields


class _Scanner:
    def __init__(self, facts: Facts, task: Task, columns: source.Columns) -> None:
        self.facts = facts
        self.task = task
        self.columns = columns
        self.imports: dict[str, str] = {}  # module-level name -> absolute dotted name
        self.local: dict[str, dict[str, str]] = {}  # function key -> names its own imports bind
        self.nested: dict[str, dict[str, str]] = {}  # function key -> its nested functions' keys by name
        self.stack: list[tuple[ast.AST, Context]] = []
        self.tree: ast.AST = ast.Module(body=[], type_ignores=[])
        self.assignments = kwargs.Assignments()  # looked up only for `**name` arguments

    def run(self, tree: ast.Module) -> None:
        self.tree = tree
        self.declare(tree.body)
        self.body(tree.body, ("", "", "", False, tree))
        handlers, stack, leaves, fields_of, push, pop = _HANDLERS, self.stack, _LEAVES, _FIELDS, \
            self.stack.append, self.stack.pop
        while stack:
            node, context = pop()
            kind = type(node)
            handler = handlers.get(kind)
            if handler is not None:
                handler(self, node, context)
                continue
            fields = fields_of.get(kind)
            if fields is None:
                fields = _fields(kind)
            for name in fields:  # strings in a list (MatchClass.kwd_attrs) are pushed and do nothing
                value = getattr(node, name)
                if type(value) is list:
                    for child in reversed(value):
                        if child is not None and type(child) not in leaves:
                            push((child, context))
                elif value is not None and type(value) not in leaves:
                    push((value, context))

    # -- names -----------------------------------------------------------------------------

    def declare(self, body: list[ast.stmt]) -> None:
        """Module-level defs, classes and imports, before any code is looked at (functions see
        names bound later in the file)."""
        todo = list(body)
        while todo:
            node = todo.pop()
            if isinstance(node, _FUNCTIONS):
                self.facts.names[node.name] = "def"
            elif isinstance(node, ast.ClassDef):
                self.facts.names[node.name] = "class"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self.imports.update(self.bound(node))
            elif isinstance(node, (ast.If, ast.Try, ast.With)) or type(node).__name__ == "TryStar":
                todo.extend(_statements(node))
        for name, dotted in self.imports.items():
            self.facts.names.setdefault(name, "=" + dotted)

    def bound(self, node: ast.Import | ast.ImportFrom) -> dict[str, str]:
        """The names an import statement binds -> the absolute dotted names they stand for."""
        if isinstance(node, ast.Import):
            return {alias.asname or alias.name.split(".", 1)[0]: alias.name if alias.asname else
                    alias.name.split(".", 1)[0] for alias in node.names}
        base = self.absolute(node.module or "", node.level)
        return {alias.asname or alias.name: f"{base}.{alias.name}" if base else alias.name
                for alias in node.names if alias.name != "*"}

    def absolute(self, module: str, level: int) -> str:
        if not level:
            return module
        parts = self.task.module.split(".") if self.task.module else []
        keep = len(parts) - level + (1 if self.task.is_package else 0)
        base = parts[:max(keep, 0)]
        return ".".join([*base, module] if module else base)

    def ref(self, func: ast.expr, context: Context) -> str:
        """What a call's target names: '=abs.dotted', '.local.name', '^Class.method', or ''."""
        parts: list[str] = []
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if isinstance(func, ast.Call) and isinstance(func.func, ast.Name) and func.func.id == "super" \
                and len(parts) == 1 and context[2]:
            return f"^{context[2]}.{parts[0]}"
        if not isinstance(func, ast.Name):
            return ""
        parts.reverse()
        root = func.id
        if root in ("self", "cls") and context[2] and len(parts) == 1:
            return f".{context[2]}.{parts[0]}"
        if context[0] and (self.local or self.nested):
            for scope in _scopes(context[0]):
                if not parts and root in self.nested.get(scope, ()):
                    return "#" + self.nested[scope][root]
                if root in self.local.get(scope, ()):
                    return "=" + ".".join((self.local[scope][root], *parts))
        bound = self.imports.get(root)
        if bound is not None:
            return "=" + ".".join((bound, *parts))
        if self.facts.names.get(root) in ("def", "class"):
            return "." + ".".join((root, *parts))
        return ""

    # -- handlers --------------------------------------------------------------------------

    def body(self, statements: list[ast.stmt], context: Context) -> None:
        """Push a block's statements in order; those after `if ray.is_initialized(): return` are guarded."""
        start = len(self.stack)
        for statement in statements:
            self.stack.append((statement, context))
            if not context[3] and isinstance(statement, ast.If) and not statement.orelse and \
                    self.is_initialized(statement.test, context) and \
                    isinstance(statement.body[-1], (ast.Return, ast.Raise)):
                context = (*context[:3], True, context[4])
        self.stack[start:] = self.stack[start:][::-1]

    def is_initialized(self, test: ast.expr, context: Context) -> bool:
        """True only when connected: `ray.is_initialized()`, alone or in an `or`."""
        if isinstance(test, ast.BoolOp):
            return isinstance(test.op, ast.Or) and any(self.is_initialized(v, context) for v in test.values)
        return isinstance(test, ast.Call) and self.ref(test.func, context) == "=ray.is_initialized"

    def not_initialized(self, test: ast.expr, context: Context) -> bool:
        """True only when not connected: `not ray.is_initialized()`, alone or in an `and`."""
        if isinstance(test, ast.BoolOp):
            return isinstance(test.op, ast.And) and any(self.not_initialized(v, context) for v in test.values)
        return isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and self.is_initialized(test.operand, context)

    def branch(self, node: Any, context: Context) -> None:
        if not context[0] and _is_main_guard(node.test):
            self.body(node.orelse, context)
            self.body(node.body, (MAIN, "", "", False, context[4]))
            return
        self.body(node.orelse, (*context[:3], True, context[4]) if self.is_initialized(node.test, context)
                  else context)
        self.body(node.body, (*context[:3], True, context[4]) if self.not_initialized(node.test, context)
                  else context)
        self.stack.append((node.test, context))

    def function(self, node: Any, context: Context) -> None:
        owner, body_of, method_of = context[:3]
        for extra in (*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)):
            self.stack.append((extra, context))  # these run where the function is defined
        if owner and owner not in (MAIN, DEFERRED):
            key = f"{owner}.<locals>.{node.name}"  # runs when called, not when its parent runs
            self.nested.setdefault(owner, {})[node.name] = key
        else:
            key = f"{body_of}.{node.name}" if body_of else node.name
        self.facts.calls.setdefault(key, set())
        if any(_is_command(decorator) for decorator in node.decorator_list):
            self.facts.commands.add(key)
        self.body(node.body, (key, "", body_of or method_of, False, node))

    def klass(self, node: Any, context: Context) -> None:
        owner, body_of, method_of, guarded, scope = context
        key = f"{body_of}.{node.name}" if body_of else node.name
        if not owner:
            self.facts.bases[key] = [ref for ref in (self.ref(base, context) for base in node.bases) if ref]
        for extra in (*node.decorator_list, *node.bases, *node.keywords):
            self.stack.append((extra, context))
        self.body(node.body, (owner, key if not owner else "", method_of, guarded, scope))

    def lam(self, node: Any, context: Context) -> None:
        self.stack.append((node.body, (context[0] or DEFERRED, "", context[2], False, context[4])))

    def imported(self, node: Any, context: Context) -> None:
        owner = context[0]
        if owner and owner not in (MAIN, DEFERRED):
            self.local.setdefault(owner, {}).update(self.bound(node))

    def call(self, node: Any, context: Context) -> None:
        owner = context[0]
        func = node.func
        ref = self.ref(func, context)
        attr = func.attr if type(func) is ast.Attribute else ""
        if ref and owner != DEFERRED:
            self.record(node, ref, context)
        if owner and owner not in (MAIN, DEFERRED) and (attr == "remote" or _needs_ray(ref)):
            self.facts.uses_ray.add(owner)
        if node.keywords and (ref in ("=ray.init", "=ray.get_actor") or attr == "options"):
            self.keywords(node, ref, context)
        push, leaves = self.stack.append, _LEAVES
        for keyword in reversed(node.keywords):
            if type(keyword.value) not in leaves:
                push((keyword.value, context))
        for arg in reversed(node.args):
            if type(arg) not in leaves:
                push((arg, context))
        self.attribute(func, context)  # ref() read the names; only calls inside the target matter

    def attribute(self, node: Any, context: Context) -> None:
        """`a.b.c`: only its root can hold a call (`f().b.c`, `x[g()].c`)."""
        while type(node) is ast.Attribute:
            node = node.value
        if type(node) not in _LEAVES:
            self.stack.append((node, context))

    def record(self, node: ast.Call, ref: str, context: Context) -> None:
        """Keep a call the analysis may need: ray.init and ray.get_actor, and calls into code that
        may be the code base's (not Ray's other API, not the standard library)."""
        owner = context[0]
        if ref == "=ray.init":
            self.facts.inits.append((owner, self.columns.pos(node), context[3]))
        elif _foreign(ref) and ref != "=ray.get_actor":
            return
        if not owner:
            self.facts.import_time.append((ref, self.columns.pos(node)))
        elif owner == MAIN:
            self.facts.main_calls.add(ref)
        else:
            self.facts.calls[owner].add(ref)

    def keywords(self, node: ast.Call, ref: str, context: Context) -> None:
        callee = "ray.init" if ref == "=ray.init" else "ray.get_actor" if ref else ".options"
        place = self.columns.pos(node)  # the call: one place for its keyword findings, as noqa sees it
        scopes = (context[4], self.tree) if context[4] is not self.tree else (self.tree,)
        for name, value in kwargs.literal_keywords(node, scopes, self.assignments):
            if ref == "=ray.init" and name == "allow_multiple" and kwargs.is_true(value):
                self.facts.keywords.append(("SC002", "allow_multiple=True passed to ray.init", place, context[0]))
            elif ref == "=ray.init" and name == "ignore_reinit_error" and kwargs.is_true(value) and not context[3]:
                self.facts.keywords.append(("SC006", "ignore_reinit_error=True passed to ray.init", place,
                                            context[0]))
            elif name == "namespace" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                self.facts.keywords.append(("SC007", f"literal namespace={value.value!r} in {callee}()", place,
                                            context[0]))


_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()))


def _foreign(ref: str) -> bool:
    """Ray's API (judged by the rule table) or the standard library: never the code base's."""
    if ref[0] != "=":
        return False
    top = ref[1:].partition(".")[0]
    return top == "ray" or top in _STDLIB


# Nodes with their own handling (a class-level table: bound methods kept on the instance would make
# a reference cycle, and with the cyclic collector paused every file's tree would stay in memory).
_HANDLERS: dict[type, Callable[[_Scanner, Any, Context], None]] = {
    ast.Call: _Scanner.call, ast.FunctionDef: _Scanner.function, ast.AsyncFunctionDef: _Scanner.function,
    ast.ClassDef: _Scanner.klass, ast.Lambda: _Scanner.lam, ast.If: _Scanner.branch,
    ast.Import: _Scanner.imported, ast.ImportFrom: _Scanner.imported, ast.Attribute: _Scanner.attribute,
}


def _needs_ray(ref: str) -> bool:
    return ref.startswith("=ray.") and (ref[1:] in _NEEDS_RAY or ref[1:].startswith(_NEEDS_RAY_PREFIXES))


def _scopes(owner: str) -> Iterator[str]:
    """A function key and the keys of the functions it is nested in, innermost first."""
    while owner:
        yield owner
        owner = owner.rpartition(".<locals>.")[0]


_COMMAND_DECORATORS = frozenset(("command", "group", "callback"))


def _is_command(decorator: ast.expr) -> bool:
    """`@click.command()`, `@cli.command("x")`, `@app.callback()`: a CLI entry point."""
    func = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in _COMMAND_DECORATORS


def _statements(node: ast.stmt) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for name in ("body", "orelse", "finalbody"):
        found.extend(getattr(node, name, None) or ())
    for handler in getattr(node, "handlers", None) or ():
        found.extend(handler.body)
    return found


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))
