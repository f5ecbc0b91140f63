"""Baseline apps the benchmarks measure beside intake311, under the same gunicorn settings."""
