"""Benchmark harness for Tiphys: `python -m bench` (see bench/README.md)."""
