"""Rule details beyond the corpus: the forms of `**kwargs` literals, is_initialized guards,
entry points found through the `__main__` block and CLI decorators, names resolved through
function-level imports, re-exports, `super()` and nested functions."""

from __future__ import annotations

from pathlib import Path

from seedcore_cli import lint


def findings(tmp_path: Path, files: dict[str, str]) -> list[tuple[str, int, str]]:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return [(Path(f.path).relative_to(tmp_path).as_posix(), f.line, f.rule) for f in lint.lint([tmp_path])]


def test_every_form_of_kwargs_literal(tmp_path):
    found = findings(tmp_path, {"m.py": (
        "import ray\n"
        "def a():\n    ray.init(**{'allow_multiple': True})\n"                                  # 3
        "def b():\n    kw: dict = {'address': 'auto'}\n    kw.update(allow_multiple=True)\n    ray.init(**kw)\n"  # 7
        "def c():\n    kw = {}\n    kw.update({'ignore_reinit_error': True})\n    ray.init(**kw)\n"  # 11
        "LADDER = [{'address': 'auto'}, {'namespace': 'fixed'}]\n"
        "def d():\n    for step in LADDER:\n        ray.init(**step)\n"                          # 15
        "def e(options):\n    ray.init(**options)\n"                                             # 17: unknown
        "def f():\n    kw = {'allow_multiple': False}\n    ray.init(**kw)\n")})                  # 20: False
    rules = [(line, rule) for _, line, rule in found if rule != "SC001"]
    assert rules == [(3, "SC002"), (7, "SC002"), (11, "SC006"), (15, "SC007")]
    assert [line for _, line, rule in found if rule == "SC001"] == [3, 7, 11, 15, 17, 20]


def test_guards_make_sc006_moot_in_their_branch_only(tmp_path):
    found = findings(tmp_path, {"m.py": (
        "import ray\nfrom ray import is_initialized\n"
        "def a():\n    if not is_initialized():\n        ray.init(ignore_reinit_error=True)\n"      # guarded
        "    else:\n        ray.init(ignore_reinit_error=True)\n"                                  # 7: not
        "def b():\n    if ray.is_initialized():\n        pass\n    else:\n"
        "        ray.init(ignore_reinit_error=True)\n"                                             # guarded
        "def c():\n    if ray.is_initialized():\n        raise RuntimeError('twice')\n"
        "    ray.init(ignore_reinit_error=True)\n"                                                 # guarded
        "def d():\n    if ray.is_initialized():\n        print('again')\n"
        "    ray.init(ignore_reinit_error=True)\n")})                                              # 20: not
    assert [line for _, line, rule in found if rule == "SC006"] == [7, 20]


def test_compound_guards(tmp_path):
    found = findings(tmp_path, {"m.py": (
        "import ray\n"
        "def a(wanted):\n    if wanted and not ray.is_initialized():\n"
        "        ray.init(ignore_reinit_error=True)\n"                                             # guarded
        "def b(wanted):\n    if not ray.is_initialized() or wanted:\n"
        "        ray.init(ignore_reinit_error=True)\n"                                             # 7: not
        "def c(ready):\n    if ray.is_initialized() or ready:\n        return\n"
        "    ray.init(ignore_reinit_error=True)\n"                                                 # guarded
        "def d(ready):\n    if ray.is_initialized() and ready:\n        return\n"
        "    ray.init(ignore_reinit_error=True)\n"                                                 # 15: not
        "def e(ready):\n    if ray.is_initialized() or ready:\n        pass\n    else:\n"
        "        ray.init(ignore_reinit_error=True)\n")})                                          # guarded
    assert [line for _, line, rule in found if rule == "SC006"] == [7, 15]


def test_entry_points_through_main_and_cli_decorators(tmp_path):
    found = findings(tmp_path, {
        "app/__init__.py": "",
        "app/conn.py": "import ray\ndef connect():\n    ray.init()\n",
        "app/tool.py": ("import ray\nimport typer\napp = typer.Typer()\n"
                        "@app.command()\ndef start():\n    _go()\n"
                        "def _go():\n    ray.init(allow_multiple=True)\n"),
        "app/runner.py": ("import ray\nfrom app.conn import connect\n"
                          "def main():\n    ray.init(ignore_reinit_error=True)\n"
                          "def shared():\n    ray.init()\n"                                        # 6: also imported
                          "if __name__ == '__main__':\n    main()\n    shared()\n"),
        "app/user.py": "from app.runner import shared\ndef use():\n    shared()\n",
    })
    assert found == [("app/conn.py", 3, "SC001"), ("app/runner.py", 6, "SC001")]


def test_names_resolve_through_local_imports_reexports_super_and_nesting(tmp_path):
    found = findings(tmp_path, {
        "pkg/__init__.py": "from .conn import connect as open_ray\n",
        "pkg/conn.py": "import ray\ndef connect():\n    ray.init()\n",
        "pkg/base.py": "import ray\nclass Base:\n    def __init__(self):\n        self.h = ray.get_actor('mw')\n",
        "pkg/child.py": ("from pkg.base import Base\nclass Child(Base):\n    def __init__(self):\n"
                         "        super().__init__()\n"),
        "pkg/lazy.py": ("def start():\n    from pkg import open_ray\n    open_ray()\n"
                        "def factory():\n    def inner():\n        start()\n    return inner\n"
                        "def runs():\n    def inner():\n        start()\n    inner()\n"),
        "pkg/main.py": ("from pkg.child import Child\nfrom pkg.lazy import factory, runs, start\n"
                        "child = Child()\nhandler = factory()\nruns()\nstart()\n"),
    })
    assert found == [("pkg/main.py", 3, "SC004"), ("pkg/main.py", 5, "SC003"), ("pkg/main.py", 6, "SC003")]


def test_console_scripts_are_entry_points(tmp_path):
    files = {
        "app/__init__.py": "",
        "app/conn.py": "import ray\ndef connect():\n    ray.init()\n",
        "app/cli.py": "import ray\ndef main():\n    ray.init(ignore_reinit_error=True)\n",
    }
    assert [rule for _, _, rule in findings(tmp_path, files)] == ["SC001", "SC006", "SC001"]
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'app'\n[project.scripts]\napp = 'app.cli:main'\n")
    assert findings(tmp_path, {}) == []
    assert lint.load([tmp_path]).entry_points == ["app.cli:main"]
