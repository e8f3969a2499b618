"""Switchyard's benchmarks: the harness (`python -m bench.run`), its mock upstream and bare proxy."""
