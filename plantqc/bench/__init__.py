"""Benchmarks behind `plantqc bench`: each measures a baseline in the same run."""
