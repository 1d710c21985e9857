"""The generic registry (storage semantics shared by every kind) and per-kind strategies."""
