# Shortcuts; the README's two commands are scripts/demo.sh and scripts/test.sh (no make needed).
.PHONY: setup demo test unit lint render bench clean

setup:
	scripts/setup-host.sh

demo:
	scripts/demo.sh

test:
	scripts/test.sh

unit:
	.venv/bin/pytest tests/unit

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

render:
	.venv/bin/dlenv render --all

bench: setup
	.venv/bin/python bench/bench_cli.py
	.venv/bin/python bench/bench_build.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache bench/results
