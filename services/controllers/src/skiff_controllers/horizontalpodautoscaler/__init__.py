"""HorizontalPodAutoscaler controller (autoscaling/v2): Kubernetes' podautoscaler, rule for rule."""
