"""RBAC (rbac.authorization.k8s.io/v1): rule matching, the authorizer over the watch caches, the
bootstrap policy kube-apiserver reconciles at start-up, and escalation prevention."""
