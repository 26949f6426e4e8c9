# The two commands in README.md. Both set the machine up first (scripts/setup.sh).
.PHONY: setup nightly test lint bench

setup:
	./scripts/setup.sh

nightly: setup
	.venv/bin/hil run

test: setup
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

bench: setup
	.venv/bin/python -m benchmarks
