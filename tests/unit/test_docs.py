"""The generated reference stays what the app says: docs/commands.md is Typer's own rendering of
the command tree (`typer seedcore_cli.cli.app utils docs`), regenerated here and compared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_command_reference_is_fresh(tmp_path):
    fresh = tmp_path / "commands.md"
    typer_cli = Path(sys.executable).with_name("typer")
    subprocess.run([str(typer_cli), "seedcore_cli.cli.app", "utils", "docs", "--name", "seedcore",
                    "--output", str(fresh)], check=True, capture_output=True, text=True, timeout=120)
    assert fresh.read_text() == (DOCS / "commands.md").read_text(), (
        "docs/commands.md is stale: run docs/regenerate.sh")


def test_every_docs_page_the_readme_links_exists():
    readme = (DOCS.parent / "README.md").read_text()
    import re

    linked = set(re.findall(r"\]\((docs/[^)#]+|bench/[^)#]+|CONTRIBUTING\.md)", readme))
    missing = sorted(path for path in linked if not (DOCS.parent / path).exists())
    assert linked and not missing, missing
