"""The keyword arguments a call can receive, as far as literals tell: `f(a=1)`, `f(**{"a": 1})`,
and `f(**name)` where `name` is a dict literal (or `dict(...)`) assigned in the same function or
at module level,
filled with `name["a"] = 1` or `name.update(a=1)`, or a loop variable over a literal list or
tuple of such dicts (a retry ladder: `for attempt in ({...}, {..., "allow_multiple": True})`).

Only literal keys count; a value is whatever expression the literal holds. The scope is searched
only when a call passes `**name`, which is rare, so the common path costs nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

Entry = tuple[str, ast.expr]  # keyword name, its value


def is_true(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and value.value is True


class Assignments:
    """The statements of each scope that can fill a dict (assignments, loops, `.update` calls),
    gathered once per scope however many `**name` arguments look there."""

    def __init__(self) -> None:
        self.found: dict[int, list[ast.AST]] = {}

    def __call__(self, scope: ast.AST) -> list[ast.AST]:
        key = id(scope)  # the tree outlives this object: ids are stable
        if key not in self.found:
            self.found[key] = [node for node in ast.walk(scope) if isinstance(node, _FILLERS)]
        return self.found[key]


_FILLERS = (ast.Assign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.Call)


def literal_keywords(call: ast.Call, scopes: tuple[ast.AST, ...], index: Assignments) -> Iterator[Entry]:
    """Keyword names and values; `scopes` (the function, then the module) are where `**name` is looked up."""
    for keyword in call.keywords:
        if keyword.arg is not None:
            yield keyword.arg, keyword.value
        else:
            for scope in scopes:
                found = list(_dicts(keyword.value, index(scope), depth=0))
                for entries in found:
                    yield from entries
                if found:
                    break


def _dicts(value: ast.expr, scope: list[ast.AST], depth: int) -> Iterator[list[tuple[str, ast.expr]]]:
    """Every literal dict `value` may stand for (each as its (key, value) pairs)."""
    literal = _literal(value)
    if literal is not None:
        yield literal
    elif isinstance(value, ast.Name) and depth < 3:
        for source in _assigned(value.id, scope):
            if isinstance(source, _Items):
                for element in source.elements:
                    yield from _dicts(element, scope, depth + 1)
            else:
                yield from _dicts(source, scope, depth + 1)
        extra = list(_filled(value.id, scope))
        if extra:
            yield extra


class _Items:
    """The elements a loop variable takes (a literal list or tuple), or a list variable's."""

    def __init__(self, elements: list[ast.expr]) -> None:
        self.elements = elements


def _literal(value: ast.expr) -> list[tuple[str, ast.expr]] | None:
    if isinstance(value, ast.Dict):
        return [(k.value, v) for k, v in zip(value.keys, value.values)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict":
        return [(k.arg, k.value) for k in value.keywords if k.arg is not None]
    return None


def _assigned(name: str, scope: list[ast.AST]) -> Iterator[ast.expr | _Items]:
    for node in scope:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            yield _Items(list(node.value.elts)) if isinstance(node.value, (ast.List, ast.Tuple)) else node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name \
                and node.value is not None:
            yield node.value
        elif isinstance(node, (ast.For, ast.AsyncFor)) and isinstance(node.target, ast.Name) and \
                node.target.id == name:
            yield from _loop_items(node.iter, scope)


def _loop_items(iterable: ast.expr, scope: list[ast.AST]) -> Iterator[_Items]:
    if isinstance(iterable, (ast.List, ast.Tuple)):
        yield _Items(list(iterable.elts))
    elif isinstance(iterable, ast.Name):
        for source in _assigned(iterable.id, scope):
            if isinstance(source, _Items):
                yield source


def _filled(name: str, scope: list[ast.AST]) -> Iterator[tuple[str, ast.expr]]:
    """`name["key"] = value` and `name.update(key=value)` / `name.update({...})`."""
    for node in scope:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and \
                        target.value.id == name and isinstance(target.slice, ast.Constant) and \
                        isinstance(target.slice.value, str):
                    yield target.slice.value, node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == name:
            yield from ((k.arg, k.value) for k in node.keywords if k.arg is not None)
            for arg in node.args:
                yield from _literal(arg) or ()
