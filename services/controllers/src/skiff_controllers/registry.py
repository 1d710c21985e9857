"""The one table of controllers: name -> constructor. ``--controllers`` picks from it.

A constructor takes the ControllerContext and returns a kit ``WorkLoop`` or an object with ``.loop``
(``base.loop_of`` accepts both). Add a controller with one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skiff_controllers.base import ControllerContext
from skiff_controllers.bootstrapsigner.controller import new_bootstrapsigner
from skiff_controllers.cronjob.controller import new_cronjob
from skiff_controllers.csrapproving.controller import new_csrapproving
from skiff_controllers.csrsigning.controller import new_csrsigning
from skiff_controllers.daemonset.controller import new_daemonset
from skiff_controllers.deployment.controller import new_deployment
from skiff_controllers.endpoints.controller import new_endpoints
from skiff_controllers.endpointslice.controller import new_endpointslice
from skiff_controllers.endpointslicemirroring.controller import new_endpointslicemirroring
from skiff_controllers.garbagecollector.controller import GarbageCollector
from skiff_controllers.horizontalpodautoscaler.controller import new_horizontalpodautoscaler
from skiff_controllers.job.controller import new_job
from skiff_controllers.namespace.controller import NamespaceController
from skiff_controllers.nodeipam.controller import new_nodeipam
from skiff_controllers.nodelifecycle.controller import NodeLifecycleController
from skiff_controllers.replicaset.controller import new_replicaset
from skiff_controllers.resourcequota.controller import new_resourcequota
from skiff_controllers.rootcacertpublisher.controller import new_rootcacertpublisher
from skiff_controllers.serviceaccount.controller import new_serviceaccount
from skiff_controllers.tokencleaner.controller import new_tokencleaner

CONTROLLERS: dict[str, Callable[[ControllerContext], Any]] = {
    "namespace": NamespaceController,
    "replicaset": new_replicaset,
    "deployment": new_deployment,
    "job": new_job,
    "cronjob": new_cronjob,
    "garbagecollector": GarbageCollector,
    "nodelifecycle": NodeLifecycleController,
    "daemonset": new_daemonset,
    "endpoints": new_endpoints,
    "endpointslice": new_endpointslice,
    "endpointslicemirroring": new_endpointslicemirroring,
    "bootstrapsigner": new_bootstrapsigner,
    "tokencleaner": new_tokencleaner,
    "csrapproving": new_csrapproving,
    "csrsigning": new_csrsigning,
    "nodeipam": new_nodeipam,
    "serviceaccount": new_serviceaccount,
    "horizontalpodautoscaler": new_horizontalpodautoscaler,
    "rootcacertpublisher": new_rootcacertpublisher,
    "resourcequota": new_resourcequota,
}

# The kube-system ServiceAccount each controller acts as under --use-service-account-credentials (the
# names kube-controller-manager gives them); its rules are the `system:controller:<name>` role the
# apiserver bootstraps (skiff_apiserver.auth.rbac.controllers).
SERVICE_ACCOUNTS: dict[str, str] = {
    "namespace": "namespace-controller",
    "replicaset": "replicaset-controller",
    "deployment": "deployment-controller",
    "job": "job-controller",
    "cronjob": "cronjob-controller",
    "garbagecollector": "generic-garbage-collector",
    "nodelifecycle": "node-controller",
    "daemonset": "daemon-set-controller",
    "endpoints": "endpoint-controller",
    "endpointslice": "endpointslice-controller",
    "endpointslicemirroring": "endpointslicemirroring-controller",
    "bootstrapsigner": "bootstrap-signer",
    "tokencleaner": "token-cleaner",
    "csrapproving": "certificate-controller",
    "csrsigning": "certificate-controller",
    "nodeipam": "node-controller",
    "serviceaccount": "service-account-controller",
    "horizontalpodautoscaler": "horizontal-pod-autoscaler",
    "rootcacertpublisher": "root-ca-cert-publisher",
    "resourcequota": "resourcequota-controller",
}
assert set(SERVICE_ACCOUNTS) == set(CONTROLLERS), "every controller needs its ServiceAccount"


def select(names: list[str]) -> list[str]:
    """Resolve --controllers: empty or "*" means all; "-name" disables one; unknown names are an error."""
    if not names or names == ["*"]:
        return list(CONTROLLERS)
    enabled = list(CONTROLLERS) if "*" in names else []
    for n in names:
        if n == "*":
            continue
        bare = n.lstrip("-")
        if bare not in CONTROLLERS:
            raise ValueError(f"--controllers: unknown controller {bare!r} (known: {sorted(CONTROLLERS)})")
        if n.startswith("-"):
            enabled = [e for e in enabled if e != bare]
        elif bare not in enabled:
            enabled.append(bare)
    return enabled
