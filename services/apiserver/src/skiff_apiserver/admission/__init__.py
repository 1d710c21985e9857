"""Admission: what happens to a request between decoding and storage.

* ``limits``: overload protection (in-flight cap, per-client rate), before a handler runs.
* ``mutating``: Kubernetes' mutating admission plugins, run on create after defaulting and before
  validation (``default_tolerations``: DefaultTolerationSeconds).
* ``serviceaccount``: ServiceAccount admission (the pod's ServiceAccount, its kube-api-access-* volume),
  one of the registry's async admission plugins that read the store (as ``priority``).
"""
