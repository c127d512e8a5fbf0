"""`seedcore lint` options and configuration: selection with prefixes and ALL, noqa,
[tool.seedcore.lint], excludes and .gitignore (never for a path given), exit codes
(--exit-zero, --fail-on), --explain and the generated rules page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lint_helpers import ROOT, run_seedcore
from typer.testing import CliRunner

from seedcore_cli import lint
from seedcore_cli.cli.app import app
from seedcore_cli.lint import rules

TWO_SITES = "import ray\n\ndef a():\n    ray.init(ignore_reinit_error=True)\n\ndef b():\n    ray.init()\n"


def invoke(*args: str):
    return CliRunner().invoke(app, ["lint", *args])


def rules_of(paths, **kwargs) -> list[str]:
    return [f.rule for f in lint.lint(paths, **kwargs)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "conn.py").write_text(TWO_SITES)
    return tmp_path


def test_select_and_ignore_take_prefixes_and_all(project):
    assert rules_of([project]) == ["SC001", "SC006", "SC001"]
    assert rules_of([project], select=["SC00"]) == ["SC001", "SC006", "SC001"]
    assert rules_of([project], select=["ALL"], ignore=["SC0"]) == []
    assert rules_of([project], select=["SC006"], ignore=["SC0"]) == ["SC006"]  # the more specific wins
    assert rules_of([project], ignore=["SC001"]) == ["SC006"]
    with pytest.raises(lint.BadInput, match="unknown rule SC9"):
        lint.parse_rules("SC9", "--select")
    assert rules.resolve(["SC001"], []) == {"SC000", "SC001"}  # files not checked are always said
    assert rules.resolve(None, ["SC000"]) == set(lint.RULES) - {"SC000"}


def test_noqa_with_and_without_codes(tmp_path):
    (tmp_path / "m.py").write_text(
        "import ray\n"
        "def a():\n    ray.init(ignore_reinit_error=True)  # noqa: SC006\n"
        "def b():\n    ray.init()  # NOQA\n"
        "def c():\n    ray.init()  # noqa: E501\n"               # another tool's code: not ours
        "def d():\n    ray.init(namespace='x # noqa')\n")         # in a string: not a comment
    found = [(f.line, f.rule) for f in lint.lint([tmp_path])]
    assert found == [(3, "SC001"), (7, "SC001"), (9, "SC001"), (9, "SC007")]
    report = lint.run([tmp_path])
    assert report.suppressed == 2


def test_pyproject_table(project):
    (project / "pyproject.toml").write_text(
        "[project]\nrequires-python = '>=3.10'\n"
        "[tool.seedcore.lint]\n"
        "ignore = ['SC006']\n"
        "per-file-ignores = {'legacy/*.py' = ['SC0']}\n"
        "extend-exclude = ['generated']\n"
        "scripts = ['pkg/tools/*.py']\n")
    (project / "legacy").mkdir()
    (project / "legacy" / "old.py").write_text(TWO_SITES)
    (project / "generated").mkdir()
    (project / "generated" / "g.py").write_text(TWO_SITES)
    (project / "pkg" / "tools").mkdir()
    (project / "pkg" / "tools" / "run.py").write_text("import ray\nray.init(allow_multiple=True)\n")
    found = [(Path(f.path).relative_to(project).as_posix(), f.rule) for f in lint.lint([project])]
    assert found == [("pkg/conn.py", "SC001"), ("pkg/conn.py", "SC001")]
    config = lint.load([project])
    assert config.target == 10 and config.ignore == ["SC006"] and config.source.endswith("pyproject.toml")
    # the command line goes over the file
    cli = lint.load([project], lint.Overrides(select="SC006", ignore="SC001", target_version="py312"))
    assert cli.select == ["SC006"] and cli.ignore == ["SC006", "SC001"] and cli.target == 12


@pytest.mark.parametrize("table, error", [
    ("colour = 'red'", "unknown key 'colour'"),
    ("select = 'SC001'", "select in [tool.seedcore.lint]"),
    ("select = ['SC42']", "unknown rule SC42 (from select in [tool.seedcore.lint] of "),
    ("ignore = ['X1']", "unknown rule X1 (from ignore in [tool.seedcore.lint] of "),
    ("per-file-ignores = {'a/*' = ['SC9']}", "unknown rule SC9 (from per-file-ignores 'a/*' in [tool.seedcore.lint]"),
    ("target-version = 'py2'", "not a Python version (from target-version in [tool.seedcore.lint] of "),
    ("target-version = 310", "target-version 310 in [tool.seedcore.lint]"),  # not read as py310: a guess
    ("target-version = 3.10", "target-version 3.1 in [tool.seedcore.lint]"),  # TOML's 3.10 is the float 3.1
    ("per-file-ignores = ['x']", "per-file-ignores"),
])
def test_bad_configuration_is_bad_input(tmp_path, table, error):
    (tmp_path / "pyproject.toml").write_text(f"[tool.seedcore.lint]\n{table}\n")
    (tmp_path / "m.py").write_text("x = 1\n")
    with pytest.raises(lint.BadInput, match=re.escape(error)):
        lint.load([tmp_path])
    result = invoke(str(tmp_path))
    assert result.exit_code == 2 and error in result.stderr


def test_broken_toml_is_bad_input(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.seedcore.lint\n")
    (tmp_path / "m.py").write_text("x = 1\n")
    result = invoke(str(tmp_path), "--config", str(tmp_path / "pyproject.toml"))
    assert result.exit_code == 2 and f"{tmp_path / 'pyproject.toml'} (from --config) is not valid TOML" in result.stderr
    found = invoke(str(tmp_path))  # the nearest pyproject.toml, found: no option to name
    assert found.exit_code == 2 and f"{tmp_path / 'pyproject.toml'} is not valid TOML" in found.stderr
    missing = invoke(str(tmp_path), "--config", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert f"cannot read {tmp_path / 'nope.toml'} (from --config): No such file" in missing.stderr


def test_default_excludes_and_gitignore_apply_below_the_paths_only(tmp_path):
    for folder in (".venv/lib", "build", "node_modules/x", "src", "ignored", "src/__pycache__"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "conn.py").write_text("import ray\ndef c():\n    ray.init()\n")
    (tmp_path / ".gitignore").write_text("ignored/\n")
    (tmp_path / ".git").mkdir()
    report = lint.run([tmp_path])
    assert report.checked == 1 and report.findings == []  # only src/conn.py: one site
    # a path given explicitly is checked, whatever excludes or ignores it
    assert lint.run([tmp_path / ".venv" / "lib", tmp_path / "ignored"]).checked == 2
    assert lint.run([tmp_path / "build" / "conn.py"]).checked == 1
    # --exclude replaces the defaults, --extend-exclude adds
    assert lint.run([tmp_path], lint.load([tmp_path], lint.Overrides(exclude=[]))).checked == 5  # .gitignore stays
    assert lint.run([tmp_path], lint.load([tmp_path], lint.Overrides(extend_exclude=["src"]))).checked == 0
    assert lint.run([tmp_path], lint.load([tmp_path], lint.Overrides(exclude=["build,.venv", "node_modules"]))).checked == 2
    (tmp_path / "pyproject.toml").write_text("[tool.seedcore.lint]\nrespect-gitignore = false\n")
    assert lint.run([tmp_path]).checked == 2  # src and ignored


def test_gitignore_of_an_ancestor_does_not_hide_a_path_given(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text(".venv/\n*.log\n")
    package = tmp_path / ".venv" / "lib" / "site-packages" / "ray"
    package.mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    assert lint.run([package]).checked == 1


def test_exit_codes_exit_zero_and_fail_on(project):
    assert invoke(str(project)).exit_code == 1
    assert invoke(str(project), "--exit-zero").exit_code == 0
    warnings_only = invoke(str(project), "--ignore", "SC001")
    assert warnings_only.exit_code == 0 and "SC006" in warnings_only.stdout
    assert invoke(str(project), "--ignore", "SC001", "--fail-on", "warning").exit_code == 1
    assert invoke(str(project / "nope")).exit_code == 2


def test_no_python_files_is_a_warning(tmp_path):
    result = invoke(str(tmp_path))
    assert result.exit_code == 0 and "no Python files found" in result.stderr
    assert "0 file(s) checked" in result.stderr


def test_summary_on_stderr_data_on_stdout(project):
    result = invoke(str(project), "-o", "json")
    assert json.loads(result.stdout)  # nothing else on stdout
    assert "1 file(s) checked; 3 finding(s), 2 error(s), 1 warning(s)" in result.stderr


def test_explain_prints_the_rule_docs():
    result = invoke("--explain", "sc004")
    assert result.exit_code == 0
    text = result.stdout
    for part in ("# SC004 import-time-ray-object (error)", "## What it finds", "## Why it breaks a Ray application",
                 "## Example", "## Fix", "organism_manager = OrganismManager()"):
        assert part in text
    bad = invoke("--explain", "SC999")
    assert bad.exit_code == 2 and "unknown rule 'SC999'" in bad.stderr


def test_the_rules_page_is_generated_and_fresh():
    page = (ROOT / "docs" / "lint-rules.md").read_text(encoding="utf-8")
    assert page == rules.markdown(), "regenerate: seedcore lint --explain ALL > docs/lint-rules.md"
    for rule in lint.RULES.values():
        assert f"## {rule.id} {rule.name} ({rule.severity})" in page and rule.url.endswith(rule.anchor)
        assert rule.before and rule.after and rule.why and rule.finds


def test_the_help_names_the_options():
    result = run_seedcore(["lint", "--help"])
    for option in ("--output-format", "--output-file", "--select", "--ignore", "--exclude", "--extend-exclude",
                   "--target-version", "--exit-zero", "--fail-on", "--explain", "--config"):
        assert option in result.stdout
