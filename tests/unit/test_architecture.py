"""The layout's rules, checked on the source: no import circles, small modules, Ray's private API
in one module, ray only in the boundary, one writer of os.environ, no Typer or Rich below cli/,
flag names only in cli/, the complexity gate."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "seedcore_cli"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, modules: dict[str, Path], package: str) -> set[str]:
    """The modules of `modules` that `path` imports, anywhere: at the top, inside functions and
    under `if TYPE_CHECKING:` (a circle hidden there is still a circle); relative imports too."""
    found: set[str] = set()
    here = package.split(".") if path.name == "__init__.py" else package.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = here[: len(here) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in modules:
                    found.add(full)
                elif base in modules:
                    found.add(base)
    return found


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph`, or None."""
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            current, path = stack.pop()
            for nxt in sorted(graph.get(current, ())):
                if nxt == start:
                    return [*path, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return None


def _graph(root: Path) -> dict[str, set[str]]:
    modules = {}
    for path in root.rglob("*.py"):
        name = ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    # a package's __init__ is not an import of each of its modules, nor is a module of its package
    return {name: _imports(path, modules, name) - {name} for name, path in modules.items()}


def test_no_import_circles_in_the_package():
    assert _circle(_graph(PACKAGE)) is None, _circle(_graph(PACKAGE))


def test_no_import_circles_in_bench():
    bench = PACKAGE.parent / "bench"
    modules = {path.stem: path for path in bench.glob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {alias.name.split(".")[0] if isinstance(node, ast.Import) else (node.module or "").split(".")[0]
                       for node in ast.walk(ast.parse(path.read_text()))
                       if isinstance(node, (ast.Import, ast.ImportFrom))
                       for alias in node.names} & set(modules) - {name}
    assert _circle(graph) is None, _circle(graph)


def test_few_modules_at_the_package_root():
    root_modules = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(root_modules) <= 6, root_modules


def test_only_the_ray_boundary_imports_ray():
    """Code that runs inside the actors (organism/actors.py) is the one exception."""
    allowed = {PACKAGE / "organism" / "actors.py"}
    pattern = re.compile(r"^\s*(import ray\b|from ray[. ])", re.M)
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if pattern.search(p.read_text()) and p not in allowed
                 and p.relative_to(PACKAGE).parts[0] != "ray_boundary"]
    assert not offenders, offenders


def test_one_module_changes_the_environment_and_one_keeps_globals():
    changes = re.compile(r"os\.environ\[[^]]+\]\s*=[^=]|os\.environ\.(pop|update|setdefault|clear)\(|"
                         r"del os\.environ|os\.(putenv|unsetenv)\(")
    writers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if changes.search(p.read_text()))
    assert len(writers) <= 1, writers
    holders = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                     if any(isinstance(node, ast.Global) for node in ast.walk(ast.parse(p.read_text()))))
    assert len(holders) <= 1, holders


def test_no_function_past_the_complexity_limit():
    import subprocess
    import sys

    found = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "--select", "C901",
                            "--output-format", "concise", str(PACKAGE)], capture_output=True, text=True)
    assert found.returncode == 0, found.stdout + found.stderr


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
