"""Node pressure and eviction: Kubernetes' eviction manager in small (thresholds, signals, ranking)."""
