#!/usr/bin/env bash
# Re-pin the project's own tooling (dlenv's dependencies and the dev extra: pytest, ruff, mypy,
# hadolint, zizmor, ...) for every Python dlenv supports. scripts/setup-host.sh and CI install
# with these pins as constraints, so a new release of a linter never changes CI by surprise.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Pins of dlenv's dependencies and dev tools, used as constraints by scripts/setup-host.sh."
  echo "# Regenerate with scripts/pin-dev-tools.sh (uv pip compile --universal); review the diff."
  .venv/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.10 --no-header -q
} > requirements/dev.txt.new
mv requirements/dev.txt.new requirements/dev.txt
