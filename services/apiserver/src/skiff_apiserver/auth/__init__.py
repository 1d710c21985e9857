"""Authentication and authorization, shared by the gRPC port and the REST port.

transport (server/base.py, rest/server.py)
  -> user.py         who is calling (certificate CN/O today; bearer tokens join here), kept in a
                     context variable for the request so admission can read it too
  -> attributes.py   what they ask: Kubernetes' request attributes (verb, resource, namespace, ...)
  -> authorizer.py   one chain both ports call: system:masters, then Node, then RBAC; the first
                     "allow" wins, and a refusal reads as Kubernetes words it
  -> rbac/           Roles and bindings from the watch caches, the bootstrap policy, escalation checks
"""
