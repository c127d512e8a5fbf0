#!/usr/bin/env bash
# Regenerate the shell completion scripts from the app (tests/test_completions.py fails when stale).
set -euo pipefail
cd "$(dirname "$0")"
for shell in bash zsh fish; do
  _SEEDCORE_COMPLETE="source_${shell}" python -m seedcore_cli > "seedcore.${shell}"
done
