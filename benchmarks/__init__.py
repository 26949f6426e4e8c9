"""Benchmarks: each module prints measured numbers (ratios against a baseline measured in the same
run) and asserts nothing about speed. Run one with `python -m benchmarks.<name>`."""
