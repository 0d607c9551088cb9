#!/usr/bin/env bash
# Everything CI runs: host set-up, lint, types, drift guard, unit tests and real-engine
# integration tests (pytest, marker `docker`, never skipped). Needs no `make`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 TESTCONTAINERS_RYUK_DISABLED=true
scripts/setup-host.sh
# The lint scope is every Python file of the repository (pyproject.toml: ruff's and mypy's settings).
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/dlenv render --all --check
.venv/bin/pytest tests "$@"
