"""Benchmarks (``make bench``): speed and scale targets, measured, never asserted in tests."""
