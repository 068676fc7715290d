"""Benchmarks of the desktop app (each prints one JSON object)."""
