# dlenv: the two commands a newcomer needs (see README.md), plus helpers.
.PHONY: setup demo test unit lint render bench clean

setup:
	scripts/setup-host.sh

# The main job: build the default image (pytorch-cpu) and smoke-test it by training an LSTM.
demo: setup
	.venv/bin/dlenv build pytorch-cpu --pip-from-host --smoke

# Everything CI runs: lint, types, drift guard, unit tests and real-engine integration tests.
test: setup lint
	.venv/bin/dlenv render --all --check
	.venv/bin/pytest tests

unit:
	.venv/bin/pytest tests/unit

lint:
	.venv/bin/ruff check builder tests bench
	.venv/bin/mypy

render:
	.venv/bin/dlenv render --all

bench: setup
	.venv/bin/python bench/bench_cli.py
	.venv/bin/python bench/bench_build.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache bench/results
