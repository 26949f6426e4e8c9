# The two commands in README.md. Both set the machine up first (scripts/setup.sh).
.PHONY: setup nightly test lint bench

setup:
	./scripts/setup.sh

nightly: setup
	.venv/bin/hil run

test: setup
	.venv/bin/python -m pytest

# firmware_model/ is type-checked against the MicroPython stubs by tests/test_firmware_imports.py
lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy hil emulator benchmarks
	.venv/bin/python -m pytest -q tests/test_firmware_imports.py

bench: setup
	.venv/bin/python -m benchmarks
