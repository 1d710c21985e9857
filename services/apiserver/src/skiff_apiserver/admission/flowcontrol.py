"""Which priority level serves a request: Kubernetes' API Priority and Fairness default FlowSchemas,
reduced to the three levels that matter on a small cluster.

- exempt: `system:masters` (APF's `exempt` FlowSchema): never limited, so an operator can always get in.
- system: the nodes (`system:nodes`), the scheduler, the controller manager, the proxy and the
  kube-system ServiceAccounts (APF's `system`, `leader-election`, `workload-high` and `kube-system-
  service-accounts` schemas): a concurrency pool of their own and no per-client rate limit, so a noisy
  user cannot starve the components that keep the cluster running.
- workload: everyone else (APF's `global-default` / `workload-low`): the shared pool and the per-client
  token bucket.

An apiserver without authentication (`system:unsecured`, development and tests) serves everyone at the
workload level: there is nobody to tell apart but the connection.
"""

from __future__ import annotations

import enum

from skiff_apiserver.auth.user import MASTERS, SERVICEACCOUNT_PREFIX, UserInfo

SYSTEM_USERS = frozenset({"system:kube-controller-manager", "system:kube-scheduler", "system:kube-proxy"})
NODES = "system:nodes"
KUBE_SYSTEM_SERVICEACCOUNTS = SERVICEACCOUNT_PREFIX + "kube-system:"


class Level(enum.Enum):
    EXEMPT = "exempt"
    SYSTEM = "system"
    WORKLOAD = "workload"


def level_of(user: UserInfo | None) -> Level:
    if user is None or user.name == "system:unsecured":
        return Level.WORKLOAD
    if MASTERS in user.groups:
        return Level.EXEMPT
    if (
        NODES in user.groups
        or user.name in SYSTEM_USERS
        or user.name.startswith(SERVICEACCOUNT_PREFIX + "kube-system:")
    ):
        return Level.SYSTEM
    return Level.WORKLOAD
