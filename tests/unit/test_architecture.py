"""The layout's rules, checked on the source: no import circles, small modules, Ray's private API
in one module, no Typer or Rich below cli/, flag names only in cli/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "seedcore_cli"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """seedcore_cli modules `path` imports, at any depth, except under `if TYPE_CHECKING:`."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names if a.name in modules)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module in modules:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)

    Visitor().visit(ast.parse(path.read_text()))
    return found


def test_no_import_circles():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    # every module's reachable set must not contain itself
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            current = todo.pop()
            if current == start:
                raise AssertionError(f"{start} imports itself through {sorted(seen)}")
            if current not in seen:
                seen.add(current)
                todo.extend(graph[current])


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_rays_private_api_only_in_ray_compat():
    pattern = re.compile(r"ray\._private|ray\._raylet|\._actor_id\b|_all_contexts|_conn_str|global_worker|"
                         r"_ray_actor_creation_function_descriptor|node:__internal_head__")
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p.name != "ray_compat.py" and pattern.search(p.read_text())]
    assert not offenders, offenders


def test_the_ray_facing_layer_knows_nothing_of_typer_rich_or_flags():
    flags = re.compile(r"--(limit|namespace|timeout|config|address|yes|include-singletons|all-namespaces|"
                       r"connect-timeout|output|dry-run|env-file|name|class|auth|all|select|ignore|strict|"
                       r"agents|watch|detail|state|singletons-only|verbose|no-color)\b")  # not ray start's own flags
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts[:1]:
            continue
        text = path.read_text()
        assert not re.search(r"^\s*(import|from) (typer|rich)\b", text, re.M), path
        assert not flags.search(text), f"{path.relative_to(PACKAGE)} names a CLI flag: {flags.search(text)[0]}"
