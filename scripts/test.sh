#!/usr/bin/env bash
# Everything CI runs: host set-up, lint, types, drift guard, unit tests and real-engine
# integration tests (pytest, marker `docker`, never skipped). Needs no `make`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 TESTCONTAINERS_RYUK_DISABLED=true
scripts/setup-host.sh
LINT_SCOPE=(builder tests bench dockerfiles/dlenv/smoke)
.venv/bin/ruff check "${LINT_SCOPE[@]}"
.venv/bin/ruff format --check "${LINT_SCOPE[@]}"
.venv/bin/mypy
.venv/bin/dlenv render --all --check
.venv/bin/pytest tests "$@"
