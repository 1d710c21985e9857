"""Image garbage collection by disk thresholds and image age (Kubernetes' image GC manager)."""
