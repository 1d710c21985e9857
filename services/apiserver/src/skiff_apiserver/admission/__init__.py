"""Admission-time limits: in-flight cap and per-client rate."""
