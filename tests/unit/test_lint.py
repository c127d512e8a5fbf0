"""`seedcore lint`: the seed's "before" code gives exactly the expected findings, the "after" code
and seedcore itself are clean; odd files are findings, not crashes; the CLI's formats and exit codes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from lint_helpers import FIXTURES, PACKAGE, run_seedcore

from seedcore_cli import lint

MAIN = "seedcore/api/main.py"
MANAGER = "seedcore/organs/organism_manager.py"


def found(paths, **kwargs) -> list[tuple[str, int, str]]:
    root = FIXTURES / "before"
    return [(str(Path(f.path).relative_to(root)) if Path(f.path).is_relative_to(root) else f.path, f.line, f.rule)
            for f in lint.lint(paths, **kwargs)]


def test_the_seeds_before_code_gives_exactly_the_expected_findings():
    assert found([FIXTURES / "before"]) == [
        (MAIN, 6, "SC001"),  # ray.init here and in OrganismManager.__init__
        (MAIN, 6, "SC003"),  # ... at import time
        (MAIN, 6, "SC006"),  # ignore_reinit_error=True
        (MAIN, 7, "SC004"),  # organism_manager = OrganismManager() at module level
        (MAIN, 8, "SC005"),  # ray.get_actor at import time
        (MANAGER, 8, "SC001"),
        (MANAGER, 8, "SC002"),  # allow_multiple=True
        (MANAGER, 8, "SC007"),  # namespace="seedcore"
    ]
    first = lint.lint([FIXTURES / "before"])[0]
    assert first.severity == "error" and first.fix and MANAGER in first.message  # names the other site


def test_the_after_code_and_seedcore_itself_are_clean():
    assert lint.lint([FIXTURES / "after"]) == []
    assert lint.lint([PACKAGE]) == []


def test_select_and_ignore():
    assert {f.rule for f in lint.lint([FIXTURES / "before"], select={"SC004", "SC005"})} == {"SC004", "SC005"}
    assert "SC007" not in {f.rule for f in lint.lint([FIXTURES / "before"], ignore={"SC007"})}
    with pytest.raises(lint.BadInput, match="unknown rule SC999"):
        lint.parse_rules("SC001,SC999", "--select")


def test_import_time_means_module_and_class_bodies_not_functions_or_main(tmp_path):
    (tmp_path / "m.py").write_text(
        "import ray as r\n"
        "class Settings:\n"
        "    handle = r.get_actor('mw')\n"          # class body: import time
        "def later():\n"
        "    r.init()\n"                            # a connector, not at import time
        "def builder():\n"
        "    return Box()\n"
        "class Box:\n"
        "    def __init__(self):\n"
        "        self.cache = lookup()\n"          # uses Ray through lookup()
        "def lookup():\n"
        "    return r.get_actor('shared_cache')\n"
        "box = builder\n"                           # a reference, not a call
        "made = Box()\n"                            # SC004 through a helper
        "if __name__ == '__main__':\n"
        "    later()\n"                             # runs as a script only
        "    Box()\n"
        "later()\n")                                # SC003: a connector at import time
    assert [(f.line, f.rule) for f in lint.lint([tmp_path])] == [(3, "SC005"), (14, "SC004"), (18, "SC003")]


def test_unreadable_files_are_findings_not_crashes(tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "blob.py").write_bytes(b"\x00\x01binary")
    (tmp_path / "huge.py").write_bytes(b"x = 1\n" * (lint.MAX_BYTES // 6 + 1))
    (tmp_path / "loop").symlink_to(tmp_path)  # a directory link loop: not followed
    (tmp_path / "again.py").symlink_to(tmp_path / "broken.py")  # the same file twice: once
    findings = {(Path(f.path).name, f.rule, f.severity) for f in lint.lint([tmp_path])}
    assert findings == {("broken.py", "SC000", "error"), ("blob.py", "SC000", "warning"),
                        ("huge.py", "SC000", "warning")}
    syntax = next(f for f in lint.lint([tmp_path]) if f.severity == "error")
    assert (syntax.line, syntax.message) == (1, "syntax error: invalid syntax")


def test_cli_text_json_and_exit_codes(tmp_path):
    # issue 20 splits the old one-line text into `concise` (that line) and `text` (plus a help line)
    text = run_seedcore(["lint", str(FIXTURES / "before"), "-o", "concise"])
    assert text.returncode == 1
    lines = text.stdout.splitlines()
    assert len(lines) == 8 and all(re.fullmatch(r"[^:]+:\d+:\d+: SC\d{3} .+", line) for line in lines)
    assert "8 finding(s), 6 error(s)" in text.stderr
    full = run_seedcore(["lint", str(FIXTURES / "before")])
    assert full.returncode == 1 and full.stdout.splitlines()[::2] == lines
    assert all(line.startswith("  help: ") for line in full.stdout.splitlines()[1::2])
    as_json = run_seedcore(["lint", str(FIXTURES / "before"), "-o", "json", "--ignore", "SC001,SC002,SC003,SC004,SC005"])
    rows = json.loads(as_json.stdout)
    assert as_json.returncode == 0  # only warnings left
    assert {row["rule"] for row in rows} == {"SC006", "SC007"}
    # issue 20: JSON gains end positions, the rule's name and its docs link
    assert set(rows[0]) == {"path", "line", "col", "rule", "severity", "message", "fix",
                            "end_line", "end_col", "name", "url"}
    clean = run_seedcore(["lint", str(FIXTURES / "after"), str(PACKAGE)])
    assert clean.returncode == 0 and clean.stdout == ""
    missing = run_seedcore(["lint", str(tmp_path / "nope")])
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    bad_rule = run_seedcore(["lint", str(FIXTURES), "--select", "SC42"])
    assert bad_rule.returncode == 2 and "unknown rule SC42 (from --select)" in bad_rule.stderr


def test_lint_never_imports_ray_nor_connects(tmp_path):
    env = {"RAY_ADDRESS": "127.0.0.1:1"}  # would exit 3 if it tried to connect
    script = ("import sys, runpy; sys.argv = ['seedcore', 'lint', %r]\n"
              "try:\n    runpy.run_module('seedcore_cli', run_name='__main__')\n"
              "except SystemExit as e:\n    print('ray' in sys.modules, e.code)\n").replace("%r", repr(str(FIXTURES / "after")))
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False,
                         env={**os.environ, **env})
    assert out.stdout.split() == ["False", "0"], out.stderr


def test_rules_follow_the_code_base_not_names_alone(tmp_path):
    """Aliases, dotted imports, methods named like connectors, inheritance, chains and one
    connector with two ray.init branches: found exactly, and nothing else."""
    (tmp_path / "conn.py").write_text(
        "import ray.util.state\n"                     # binds ray
        "from ray import init as start\n"
        "def connect(address=None):\n"
        "    if address:\n"
        "        start(address)\n"                    # two branches of one connector: one site
        "    else:\n"
        "        ray.init()\n"
        "def setup():\n"
        "    connect()\n"                             # a connector through connect()
        "class Base:\n"
        "    def __init__(self):\n"
        "        self.h = ray.get_actor('mw')\n"
        "class Child(Base):\n"                        # inherits a Ray-using __init__
        "    pass\n"
        "class Config:\n"
        "    def __init__(self):\n"
        "        self.values = {}.get('x')\n"         # .get on a dict: not ray.get
        "class Store:\n"
        "    def get(self):\n"
        "        return ray.get(None)\n"
        "    def connect(self):\n"
        "        return 1\n"
        "import sqlite3\n"
        "db = sqlite3.connect('x.db')\n"              # not a Ray connector
        "config = Config()\n"
        "child = Child()\n"                           # SC004
        "setup()\n")                                  # SC003
    assert [(f.line, f.rule) for f in lint.lint([tmp_path])] == [(26, "SC004"), (27, "SC003")]
