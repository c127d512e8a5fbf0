"""No input ends in an internal error: link loops, unparseable nesting, unreadable, special and
oversized files, directories named *.py, newer syntax. A bug, if any remains, exits 2 and the
other files are still reported."""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lint_helpers import run_seedcore
from typer.testing import CliRunner

from seedcore_cli import lint
from seedcore_cli.cli.app import app
from seedcore_cli.lint import scanner, source, versions


def notes(paths) -> dict[str, tuple[str, str]]:
    return {os.path.basename(f.path): (f.severity, f.message) for f in lint.lint(paths)}


def test_link_loops_and_broken_links_are_notes(tmp_path):
    (tmp_path / "a.py").symlink_to(tmp_path / "b.py")
    (tmp_path / "b.py").symlink_to(tmp_path / "a.py")
    (tmp_path / "gone.py").symlink_to(tmp_path / "nowhere.py")
    (tmp_path / "up").symlink_to(tmp_path)
    found = notes([tmp_path])
    assert found["a.py"] == ("warning", "not checked: a loop of symbolic links")
    assert found["gone.py"] == ("warning", "not checked: a broken symbolic link")
    assert notes([tmp_path / "a.py"])["a.py"][0] == "warning"  # given explicitly: the same note


def test_deep_nesting_is_an_sc000_finding(tmp_path):
    (tmp_path / "deep.py").write_text("x = " + "(" * 300 + "1" + ")" * 300 + "\n")
    (tmp_path / "deeper.py").write_text("x = " + "-" * 200_000 + "1\n")
    found = notes([tmp_path])
    assert {found["deep.py"][0], found["deeper.py"][0]} == {"error"}
    result = CliRunner().invoke(app, ["lint", str(tmp_path)])
    assert result.exit_code == 1 and "internal error" not in result.stderr


def test_unreadable_file(tmp_path, monkeypatch):
    (tmp_path / "secret.py").write_text("x = 1\n")
    real = open

    def guarded(path, *args, **kwargs):  # root reads every file: refuse this one as the OS would
        if str(path).endswith("secret.py"):
            raise PermissionError(13, "Permission denied")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(source, "open", guarded, raising=False)
    assert notes([tmp_path])["secret.py"] == ("warning", "not checked: cannot read it (Permission denied)")


def _without_root_powers() -> list[str]:
    """A command prefix under which chmod 000 really refuses: none for a user; for root, setpriv
    drops the capabilities that let root read any file (CI runs as root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root without setpriv (util-linux): cannot make a file unreadable to this process")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_unreadable_paths_given_or_found_are_notes_by_the_real_command(tmp_path):
    (tmp_path / "secret.py").write_text("x = 1\n")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "m.py").write_text("x = 1\n")
    (tmp_path / "ok.py").write_text("import ray\nray.get_actor('x')\n")
    os.chmod(tmp_path / "secret.py", 0)
    os.chmod(tmp_path / "locked", 0)
    tmp_path.chmod(0o755)
    try:
        prefix = _without_root_powers()
        for given in ([tmp_path], [tmp_path / "secret.py", tmp_path / "locked"]):
            result = run_seedcore(["lint", "-o", "concise", *map(str, given)], prefix=prefix)
            assert "Usage:" not in result.stderr, result.stderr  # not a usage error (Click's readable check)
            assert "secret.py:1:1: SC000 not checked: cannot read it (Permission denied)" in result.stdout, result.stderr
            assert "locked:1:1: SC000 not checked: cannot list the directory (Permission denied)" in result.stdout
        assert result.returncode == 0  # warnings only
        assert run_seedcore(["lint", str(tmp_path)], prefix=prefix).returncode == 1  # ok.py's SC005
    finally:
        os.chmod(tmp_path / "locked", 0o755)


def test_unreadable_directory_is_a_note(tmp_path, monkeypatch):
    (tmp_path / "locked").mkdir()
    real = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert notes([tmp_path])["locked"] == ("warning", "not checked: cannot list the directory (Permission denied)")


def test_special_files_and_directories_named_py(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")  # reading it would block forever
    (tmp_path / "pkg.py").mkdir()
    (tmp_path / "pkg.py" / "inner.py").write_text("import ray\nray.get_actor('x')\n")
    found = notes([tmp_path])
    assert found["pipe.py"] == ("warning", "not checked: not a regular file (a device, socket or pipe)")
    assert found["inner.py"][0] == "error"  # the directory was walked into
    assert notes([tmp_path / "pipe.py"])["pipe.py"][0] == "warning"


def test_newer_syntax_is_a_warning_never_an_error(tmp_path):
    cases = {
        "fstring.py": 'names = ["a"]\nx = f"{", ".join(names)}"\n',
        "generic.py": "def first[T](items: list[T]) -> T:\n    return items[0]\n",
        "alias.py": "type Pair = tuple[int, int]\n",
        "defaults.py": "class Box[T = int]:\n    pass\n",
        "excepts.py": "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n",
    }
    needs = {"fstring.py": 12, "generic.py": 12, "alias.py": 12, "defaults.py": 13, "excepts.py": 14}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    found = notes([tmp_path])
    for name, minor in needs.items():
        if minor > versions.RUNNING:
            assert found[name] == ("warning", f"not checked (needs Python 3.{minor}; lint runs on 3.{versions.RUNNING})")
    report = lint.run([tmp_path])
    assert report.errors == 0 and report.not_checked == sum(m > versions.RUNNING for m in needs.values())


def test_a_real_syntax_error_stays_an_error(tmp_path):
    (tmp_path / "broken.py").write_text('x = f"{1}"\ndef f(:\n    pass\n')
    assert notes([tmp_path])["broken.py"] == ("error", "syntax error: invalid syntax")


def test_target_version(tmp_path):
    (tmp_path / "m.py").write_text("match = 1\nmatch match:\n    case 1:\n        pass\n")
    assert lint.lint([tmp_path]) == []
    old = lint.load([tmp_path], lint.Overrides(target_version="py39"))
    finding = lint.run([tmp_path], old).findings[0]
    assert finding.rule == "SC000" and finding.severity == "error" and "target version 3.9" in finding.message
    newer = lint.load([tmp_path], lint.Overrides(target_version="3.13"))
    assert newer.target == 13
    (tmp_path / "odd.py").write_text("x = (\n")
    assert lint.run([tmp_path / "odd.py"], newer).findings[0].severity == (
        "warning" if versions.RUNNING < 13 else "error")  # cannot tell: the target says newer


def test_requires_python_sets_the_default_target(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nrequires-python = '>=3.9, <4'\n")
    assert lint.load([tmp_path]).target == 9
    assert versions.from_requires_python("~=3.11.2") == 11 and versions.from_requires_python(">3.10") == 11
    assert versions.from_requires_python("*") is None


def test_internal_errors_exit_2_and_the_rest_is_reported(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("import ray\nray.get_actor('x')\n")
    (tmp_path / "boom.py").write_text("x = 1\n")
    real = scanner._scan

    def flaky(task):
        if task.path.endswith("boom.py"):
            raise RuntimeError("Symlink loop")
        return real(task)

    monkeypatch.setattr(scanner, "_scan", flaky)
    result = CliRunner().invoke(app, ["lint", str(tmp_path), "-o", "concise"])
    assert result.exit_code == 2
    assert "SC005" in result.stdout and "internal error in" in result.stderr and "RuntimeError: Symlink loop" in result.stderr


def test_an_internal_error_of_the_run_exits_2(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("x = 1\n")
    from seedcore_cli.lint import engine

    def broken(*args, **kwargs):
        raise RecursionError("deep")

    monkeypatch.setattr(engine, "CodeBase", broken)
    result = CliRunner().invoke(app, ["lint", str(tmp_path)])
    assert result.exit_code == 2 and "internal error: RecursionError: deep" in result.stderr


def test_a_name_too_long_is_bad_input(tmp_path):
    result = run_seedcore(["lint", str(tmp_path / ("x" * 5000))])
    assert result.returncode == 2 and "unusable" in result.stderr and len(result.stderr) < 400



_PIECES = ["import ray\n", "ray.init(**kw)\n", "def f(", "):\n", "    ", "class C(B):\n", "if __name__ == '__main__':\n",
           "f'{x!r:>{w}}'", "# noqa: SC001\n", "\u00e9", "\t", "lambda: ray.get_actor('x')", "async def g():\n", "(", ")",
           "[", "]", "{", "}", "'", '"', "\\", "\r\n", "\x0c", "super().__init__()\n", "from . import x\n", ":", "=", ","]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(_PIECES), max_size=40), junk=st.binary(max_size=30))
def test_any_text_gives_findings_never_an_internal_error(tmp_path, pieces, junk):
    (tmp_path / "a.py").write_text("".join(pieces), encoding="utf-8")
    (tmp_path / "b.py").write_bytes(junk)
    report = lint.run([tmp_path])
    assert report.internal_errors == []
    assert all(f.line >= 1 and f.col >= 1 and (f.end_line, f.end_col) >= (f.line, f.col) for f in report.findings)


def test_pythons_warnings_about_the_code_stay_off_stderr(tmp_path):
    (tmp_path / "m.py").write_text('import re\nPATTERN = re.compile("\\d+")\n')
    result = run_seedcore(["lint", str(tmp_path)], env={"PYTHONWARNINGS": "always"})
    assert result.returncode == 0 and "invalid escape sequence" not in result.stderr, result.stderr
