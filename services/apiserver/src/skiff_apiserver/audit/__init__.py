"""Audit logging (audit.k8s.io/v1): policy.py decides each request's level, log.py writes the events."""
