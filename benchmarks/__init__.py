"""Papyra benchmarks: figures normalised to in-run references, saved runs, and their comparison."""
