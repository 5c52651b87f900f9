"""Benchmarks: ratios measured in one run, reported in BENCHMARKS.md; never part of the test suite."""
