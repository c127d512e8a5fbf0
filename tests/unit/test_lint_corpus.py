"""The real-world-shaped corpus (tests/fixtures/lint/corpus): every finding expected, and only
those. Each false-positive kind of issue 20 is a regression test here: scripts, `__main__`
blocks, CLI commands and tests are not connect sites; a function with several ray.init calls is
one site; an is_initialized guard makes SC006 moot; names resolve through imports, never by bare
name (stdlib queue.Queue, psutil's debug(), a route table's delete); `**kwargs` dict literals are
read; a Python 3.12 file is a warning, not an error; noqa comments silence."""

from __future__ import annotations

import re
from pathlib import Path

from lint_helpers import FIXTURES

from seedcore_cli import lint

CORPUS = FIXTURES / "corpus"
_EXPECT = re.compile(r"#\s*expect:\s*((?:SC\d{3}\s*)+)")


def expected() -> set[tuple[str, int, str]]:
    """(path below the corpus, line, rule) of every `# expect: SCnnn` marker."""
    found = set()
    for path in sorted(CORPUS.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _EXPECT.search(line)
            if match:
                found |= {(str(path.relative_to(CORPUS)), number, rule) for rule in match.group(1).split()}
    return found


def reported(**kwargs) -> set[tuple[str, int, str]]:
    return {(str(Path(f.path).relative_to(CORPUS)), f.line, f.rule) for f in lint.lint([CORPUS], **kwargs)}


def test_the_corpus_gives_exactly_the_expected_findings():
    assert reported() == expected()


def test_the_corpus_has_every_rule_and_false_positive_kind():
    rules = {rule for _, _, rule in expected()}
    assert rules == set(lint.RULES) - {"SC000"} | {"SC000"}
    files = {path for path, _, _ in expected()}
    quiet = {"scripts/start_cluster.py", "scripts/reset.py", "tests/conftest.py", "tests/test_queue.py",
             "orbit/cli/commands.py", "orbit/cli/serve_main.py", "orbit/services/jobs.py", "orbit/quiet.py"}
    assert not files & quiet  # each of these calls ray.init or looks like Ray code, and is quiet


def test_one_site_per_function_named_once_each():
    sc001 = [f for f in lint.lint([CORPUS]) if f.rule == "SC001"]
    connector = [f for f in sc001 if f.path.endswith("connector.py")]
    assert len(connector) == 1 and "connector.py" not in connector[0].message  # names only the others
    assert all(f"in {len(sc001) + 1} places" in f.message for f in sc001)  # + the one silenced by noqa


def test_the_newer_syntax_file_is_a_warning_only():
    finding = next(f for f in lint.lint([CORPUS]) if f.path.endswith("newsyntax.py"))
    assert finding.severity == "warning" and "not checked (needs Python 3.12" in finding.message
