"""Measurement scripts, run from the repository root as modules: ``.venv/bin/python -m
benchmarks.bench_routing``, so that ``pvp`` and ``testkit`` import as they are (no path edits)."""
