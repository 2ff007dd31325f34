"""Benchmarks: ``python -m chatdesk.bench`` builds a large history and prints metrics."""
