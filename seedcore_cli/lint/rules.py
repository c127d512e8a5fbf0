"""The rule table: every rule's id, name, severity and documentation, in one place.

Everything that describes a rule to a user (the one-line message's fix, the explain option, SARIF rule
metadata, the JSON docs link, docs/lint-rules.md) is generated from RULES; nothing else holds
rule text. Selection (select and ignore lists, with prefixes and ALL) is resolved here too, so the
rest of the package only ever sees a set of full rule ids.

Invariant: ids are `SC` and three digits, sorted; names are unique kebab-case words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from seedcore_cli.errors import BadInput, quoted

ERROR, WARNING = "error", "warning"
DOCS_PAGE = "docs/lint-rules.md"


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: str
    summary: str  # why it matters, in one line (the rationale)
    fix: str  # what to do, in one line (shown with each finding)
    finds: str  # what the rule finds (explain, docs)
    why: str  # how it breaks a Ray application
    before: str  # an example the rule flags
    after: str  # the same code fixed

    @property
    def anchor(self) -> str:
        return f"{self.id.lower()}-{self.name}-{self.severity}"  # GitHub's anchor for the heading

    @property
    def url(self) -> str:
        return f"{DOCS_PAGE}#{self.anchor}"


_TABLE = (
    Rule("SC000", "file-not-checked", ERROR,
         "a file that cannot be parsed is not checked at all",
         "fix the syntax error, set the target version, or exclude the file",
         "Files lint could not check: a syntax error (an error), or a file it could not read, a binary "
         "or special file, a file larger than 5 MiB, or one written for a newer Python than the one "
         "lint runs on (warnings: `not checked (needs Python 3.X)`).",
         "Nothing in an unchecked file is looked at, so its `ray.init` calls count nowhere.",
         "def f(:\n    pass\n",
         "def f():\n    pass\n"),
    Rule("SC001", "multiple-init-sites", ERROR,
         "ray.init is called in more than one place; whichever runs second conflicts with the first",
         "route every connection through one connect() function and call it once at startup",
         "Library code that calls `ray.init` in more than one function (or module body). Each function "
         "is one site, reported at its first `ray.init` call, naming the others. Entry points (a "
         "`__main__` block, CLI commands, the project's console scripts, and the functions only they "
         "reach; scripts: files with a `#!` line, under scripts/, bin/, examples/, bench/, or the "
         "config's `scripts`) and tests are not sites: they own their process.",
         "Ray has one global connection per process. The second `ray.init` either fails (`Ray Client is "
         "already connected`), silently reuses a connection made for another address or namespace, or "
         "(with `allow_multiple`) opens a second client. A guard such as `if not ray.is_initialized():` "
         "does not help: two modules still choose their address and namespace on their own.",
         "# api/main.py\nray.init(address=\"auto\")\n\n# organs/manager.py\nclass OrganismManager:\n"
         "    def __init__(self):\n        if not ray.is_initialized():\n"
         "            ray.init(namespace=\"seedcore\")\n",
         "# ray_connector.py: the only ray.init\ndef connect():\n    if ray.is_initialized():\n"
         "        return\n    ray.init(address=os.environ.get(\"RAY_ADDRESS\", \"auto\"),\n"
         "             namespace=os.environ.get(\"SEEDCORE_NS\", \"seedcore-dev\"))\n\n"
         "# api/main.py\ndef startup():\n    connect()\n    manager = OrganismManager()\n"),
    Rule("SC002", "allow-multiple-clients", ERROR,
         "allow_multiple=True opens another Ray Client beside the existing one",
         "remove allow_multiple; share the one connection",
         "`ray.init(..., allow_multiple=True)` in library code, as a keyword or in a `**kwargs` dict "
         "literal (`ray.init(**attempt)` where `attempt` is a literal dict, or a loop over literal dicts).",
         "Each Ray Client connection is a separate session: actors, named handles and object refs made "
         "through one are not valid through the other, and code that uses the global `ray` module gets "
         "whichever connection was made last.",
         "try:\n    ray.init(address=addr)\nexcept RuntimeError:\n"
         "    ray.init(address=addr, allow_multiple=True)\n",
         "connect()  # the one connection, made once at startup\n"),
    Rule("SC003", "import-time-connect", ERROR,
         "Ray is connected at import time, before the program chose its address and namespace",
         "connect in a startup function (main, an app factory, a lifespan hook), not at module level",
         "`ray.init`, or a call to a function of the code base that reaches `ray.init`, in code that runs "
         "when a module is imported: the module body, class bodies, decorators and default values (not "
         "function bodies, lambdas, or `if __name__ == \"__main__\":` blocks). Calls are resolved through "
         "imports and qualified module paths, never by bare name.",
         "Importing the module (a test, a tool, another service) connects to whatever address is in the "
         "environment at that moment, before the program parsed its options; a second import path then "
         "meets an existing connection.",
         "import ray\nray.init(address=\"ray://ray-head:10001\")\n",
         "def startup():\n    connect()\n"),
    Rule("SC004", "import-time-ray-object", ERROR,
         "an object that needs Ray is built at import time, before Ray is connected",
         "build it lazily after connecting (in a startup function) and pass the connection in",
         "A class of the code base whose `__init__` (its own or inherited) uses Ray, directly or through "
         "the functions it calls, instantiated at import time.",
         "The object is built when the module is imported: before `connect()` ran, so its `__init__` "
         "either fails, or calls Ray's API that connects on its own with default settings.",
         "organism_manager = OrganismManager()  # __init__ calls ray.get_actor\n",
         "organism_manager = None\n\ndef startup():\n    global organism_manager\n    connect()\n"
         "    organism_manager = OrganismManager()\n"),
    Rule("SC005", "import-time-get-actor", ERROR,
         "ray.get_actor runs at import time, before Ray is connected",
         "look the actor up after connecting, where it is used",
         "`ray.get_actor(...)` in code that runs when a module is imported.",
         "The lookup runs before the program connected: it fails, or makes Ray connect on its own "
         "with default settings, and the handle belongs to that connection.",
         "cache = ray.get_actor(\"shared_cache\")\n",
         "def shared_cache():\n    return ray.get_actor(\"shared_cache\", namespace=settings.namespace)\n"),
    Rule("SC006", "ignore-reinit-error", WARNING,
         "ignore_reinit_error=True hides a second ray.init instead of removing it",
         "remove the second ray.init and ignore_reinit_error",
         "`ray.init(..., ignore_reinit_error=True)` in library code (keyword or `**kwargs` dict literal), "
         "unless the call is guarded by `if not ray.is_initialized():` (the guard makes the flag moot; "
         "SC001 still counts the site).",
         "The second call silently keeps the first connection, whatever address and namespace it asked "
         "for: the code then works against a cluster or namespace it did not choose.",
         "ray.init(address=\"auto\", ignore_reinit_error=True)\n",
         "connect()\n"),
    Rule("SC007", "literal-namespace", WARNING,
         "a literal namespace bypasses the configured one (SEEDCORE_NS / RAY_NAMESPACE)",
         "take the namespace from the configuration, not a string literal",
         "A string literal `namespace=` in `ray.init`, `ray.get_actor` or `.options(...)` (keyword or "
         "`**kwargs` dict literal), outside tests.",
         "Detached actors and named lookups live in a namespace; a hard-coded one splits the organism "
         "between the configured namespace and the literal one.",
         "ray.init(address=\"auto\", namespace=\"seedcore\")\n",
         "ray.init(address=address, namespace=settings.namespace)\n"),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _TABLE}
_SELECTOR = re.compile(r"SC\d{0,3}|ALL")


def split_codes(text: str | Iterable[str] | None) -> list[str]:
    """'SC001, sc004' or ['SC001'] -> ['SC001', 'SC004'] (upper-cased, empty parts dropped)."""
    if text is None:
        return []
    parts = text.split(",") if isinstance(text, str) else [p for item in text for p in str(item).split(",")]
    return [part.strip().upper() for part in parts if part.strip()]


def check_selectors(selectors: list[str], source: str) -> list[str]:
    """Selectors as given, each a full id, a prefix of one (SC0, SC00) or ALL; bad input otherwise."""
    bad = [s for s in selectors if not _SELECTOR.fullmatch(s) or not any(r.startswith(_prefix(s)) for r in RULES)]
    if bad:
        raise BadInput(f"unknown rule {', '.join(quoted(b) if not b.isalnum() else b for b in bad)} "
                       f"(from {source})", f"use rule ids or prefixes of them ({', '.join(RULES)}) or ALL")
    return selectors


def _prefix(selector: str) -> str:
    return "SC" if selector == "ALL" else selector


def _best(rule: str, selectors: list[str]) -> int:
    """How specific the most specific selector matching `rule` is (-1: none matches)."""
    return max((len(_prefix(s)) for s in selectors if rule.startswith(_prefix(s))), default=-1)


def resolve(select: list[str] | None, ignore: list[str]) -> frozenset[str]:
    """The rules that run: a rule matched by both lists goes with the more specific selector (ruff's
    precedence; on a tie, ignore wins). `select` None means ALL. SC000 (files not checked) always
    runs unless a selector names it in `ignore`."""
    chosen = ["ALL"] if select is None else select
    kept = {rule for rule in RULES if _best(rule, chosen) > _best(rule, ignore)}
    if _best("SC000", ignore) < len("SC000"):
        kept.add("SC000")
    return frozenset(kept)


def explain(rule_id: str, source: str = "explain") -> str:
    """A rule's documentation as plain Markdown (what `seedcore lint --explain` prints); ALL: the
    whole reference, docs/lint-rules.md."""
    if rule_id.strip().upper() == "ALL":
        return markdown()
    rule = RULES.get(rule_id.strip().upper())
    if rule is None:
        raise BadInput(f"unknown rule {quoted(rule_id)} (from {source})", f"use one of {', '.join(RULES)} or ALL")
    return _section(rule, "#")


def _section(rule: Rule, level: str) -> str:
    return (f"{level} {rule.id} {rule.name} ({rule.severity})\n\n{rule.summary[0].upper()}{rule.summary[1:]}.\n\n"
            f"{level}# What it finds\n\n{rule.finds}\n\n{level}# Why it breaks a Ray application\n\n{rule.why}\n\n"
            f"{level}# Example\n\n```python\n{rule.before}```\n\n{level}# Fix\n\n{rule.fix[0].upper()}{rule.fix[1:]}:\n\n"
            f"```python\n{rule.after}```\n\n"
            f"Silence one finding with `# noqa: {rule.id}` on its line, or the rule by adding {rule.id} to the "
            "ignore list (command line or `[tool.seedcore.lint]`).\n")


def markdown() -> str:
    """docs/lint-rules.md: every rule's documentation (regenerate: seedcore lint --explain ALL)."""
    index = "\n".join(f"| [{r.id}](#{r.anchor}) | {r.name} | {r.severity} | {r.summary} |" for r in _TABLE)
    body = "\n".join(_section(rule, "##") for rule in _TABLE)
    return ("# seedcore lint rules\n\n<!-- Generated from seedcore_cli/lint/rules.py by "
            "`seedcore lint --explain ALL > docs/lint-rules.md`; a test checks it is fresh. -->\n\n"
            "`seedcore lint` finds the code patterns that cause Ray connection conflicts; its explain "
            "option prints one of these sections (`seedcore lint --explain SC004`).\n\n"
            "| Rule | Name | Severity | Why |\n|---|---|---|---|\n" + index + "\n\n" + body)
