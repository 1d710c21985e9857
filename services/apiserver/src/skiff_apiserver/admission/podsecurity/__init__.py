"""Pod Security admission: the Pod Security Standards (checks.py) applied per namespace (admit.py)."""
