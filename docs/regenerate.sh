#!/usr/bin/env bash
# Regenerate the command reference from the app (tests/unit/test_docs.py fails when it is stale).
set -euo pipefail
cd "$(dirname "$0")"
typer seedcore_cli.cli.app utils docs --name seedcore --output commands.md
