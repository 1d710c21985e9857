"""Resource quota evaluation shared by the apiserver's ResourceQuota admission and the resourcequota
controller, so the usage one charges is the usage the other recomputes.

* ``usage``:  what an object costs (pods: compute requests/limits and the ``pods`` count; every object:
  ``count/<resource>[.<group>]``), Kubernetes' quota evaluators as pure functions.
* ``scopes``: which quotas an object falls under (Terminating, NotTerminating, BestEffort, NotBestEffort,
  PriorityClass scope selectors).
* ``check``:  a quota against a requested delta: Kubernetes' admission messages
  (``exceeded quota: ...``, ``must specify limits.cpu for: ...``).
"""
