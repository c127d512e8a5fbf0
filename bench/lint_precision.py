"""Precision and recall of `seedcore lint` on the corpus of real-world-shaped fixtures
(tests/fixtures/lint/corpus, each expected finding marked `# expect: SCnnn`), and its findings on
Ray's own package by rule; the linter before issue 20 (git history) alongside, for comparison.

    python bench/lint_precision.py [RAY_PACKAGE]

Precision = error findings that are expected (harmful) / all error findings; recall = expected
error findings reported / all expected (the SC000 mark is a warning: a file not checked). The result goes to bench/lint_precision.md.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "tests" / "fixtures" / "lint" / "corpus"
BEFORE_COMMIT = "bd3db9d"  # the last commit with the single-module linter (seedcore_cli/lint.py)
DEFAULT_RAY = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "ray"
_EXPECT = re.compile(r"#\s*expect:\s*((?:SC\d{3}\s*)+)")

lint = importlib.import_module("seedcore_cli.lint")  # this checkout's, not an installed one
ERROR = lint.ERROR

Key = tuple[str, int, str]


def expected() -> set[Key]:
    found = set()
    for path in sorted(CORPUS.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _EXPECT.search(line)
            if match:
                found |= {(str(path.relative_to(CORPUS)), number, rule) for rule in match.group(1).split()}
    return found


def old_linter() -> types.ModuleType | None:
    """The linter as it was before issue 20, loaded from git history (None if it cannot be)."""
    try:
        def show(path: str) -> str:
            return subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE_COMMIT}:{path}"],
                                  capture_output=True, text=True, check=True).stdout

        folder = Path(tempfile.mkdtemp(prefix="lint-before-"))
        # its helper module pathkind has since moved (seedcore_cli/paths.py): load that one from history too
        (folder / "seedcore_pathkind_before.py").write_text(show("seedcore_cli/pathkind.py"))
        text = show("seedcore_cli/lint.py").replace("from seedcore_cli import pathkind",
                                                    "import seedcore_pathkind_before as pathkind")
        (folder / "seedcore_lint_before.py").write_text(text)
        sys.path.insert(0, str(folder))
        spec = importlib.util.spec_from_file_location("seedcore_lint_before", folder / "seedcore_lint_before.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    except (subprocess.CalledProcessError, ImportError, SyntaxError, OSError, AssertionError) as err:
        print(f"(the old linter is not available: {err})", file=sys.stderr)
        return None


def score(findings, marks: set[Key]) -> dict:
    errors = {(str(Path(f.path).relative_to(CORPUS)), f.line, f.rule) for f in findings if f.severity == ERROR}
    harmful = {m for m in marks if m[2] != "SC000" and lint.RULES[m[2]].severity == ERROR}  # SC000 marks: warnings
    hits = errors & harmful
    return {"errors": len(errors), "harmful": len(hits), "precision": len(hits) / len(errors) if errors else 1.0,
            "recall": len(harmful & errors) / len(harmful) if harmful else 1.0, "expected": len(harmful),
            "missed": sorted(harmful - errors), "false": sorted(errors - harmful)}


def by_rule(findings) -> str:
    counts = collections.Counter(f.rule for f in findings)
    return ", ".join(f"{rule} {counts[rule]}" for rule in sorted(counts)) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ray", nargs="?", type=Path, default=DEFAULT_RAY)
    args = parser.parse_args()
    marks = expected()
    new = score(lint.lint([CORPUS]), marks)
    before = old_linter()
    old = score(before.lint([CORPUS]), marks) if before else None
    started = time.monotonic()
    report = lint.run([args.ray])
    ray_new = report.findings
    ray_old = before.lint([args.ray]) if before else []
    files = sum(1 for _ in CORPUS.rglob("*.py"))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    heading = (f"# seedcore lint precision\n\n{when}; corpus: tests/fixtures/lint/corpus ({files} files, "
               f"{new['expected']} harmful error findings marked).\n")
    lines = [heading,
             "| linter | error findings | harmful | precision | recall |", "|---|---|---|---|---|",
             f"| now | {new['errors']} | {new['harmful']} | {new['precision']:.0%} | {new['recall']:.0%} |"]
    if old:
        lines.append(f"| before issue 20 ({BEFORE_COMMIT}) | {old['errors']} | {old['harmful']} | "
                     f"{old['precision']:.0%} | {old['recall']:.0%} |")
    lines += ["", f"Missed now: {new['missed'] or 'none'}; false now: {new['false'] or 'none'}.", "",
              f"## Ray's package ({args.ray}, {report.checked} files checked, {report.not_checked} not checked)", "",
              f"- now: {len(ray_new)} findings ({report.errors} errors, {report.warnings} warnings): {by_rule(ray_new)}"]
    if before:
        lines.append(f"- before issue 20: {len(ray_old)} findings: {by_rule(ray_old)}")
    lines += ["", "Findings now:", ""] + [(f"- `{Path(f.path).relative_to(args.ray.parent)}:{f.line}` {f.rule} "
                                           f"{f.message[:110]}") for f in ray_new]
    text = "\n".join(lines) + f"\n\n({time.monotonic() - started:.1f} s)\n"
    (ROOT / "bench" / "lint_precision.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
