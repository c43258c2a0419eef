"""Benchmarks: numbers, not pass/fail tests. Each runs as `python -m bench.NAME`."""
