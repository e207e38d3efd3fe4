"""Benchmarks that print measured ratios against naive references run in the same process."""
