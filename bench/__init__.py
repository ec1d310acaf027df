"""Benchmarks of the lakehouse: `python -m bench` runs them all (see `bench.run_all`); the older single-purpose
scripts (`pipeline_bench.py`, `race_bench.py`, `dashboard_bench.py`) still run on their own."""
