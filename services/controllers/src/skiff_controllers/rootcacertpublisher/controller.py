"""Root CA publisher: every namespace has a ConfigMap `kube-root-ca.crt` whose `ca.crt` is the
cluster CA, as kube-controller-manager's root-ca-cert-publisher keeps it.

Pods read it through the `kube-api-access-*` projected volume ServiceAccount admission adds, so a
process in a pod can verify the apiserver it talks to.

reconcile(namespace)::

    namespace gone or terminating   -> nothing
    no ConfigMap                    -> create it
    ConfigMap with other ca.crt     -> update it to the CA (other keys are dropped, as Kubernetes does)
    otherwise                       -> nothing

Woken by namespaces and by changes to any `kube-root-ca.crt` (deleted or edited ones come back).
Level-triggered: a restart finds every namespace in the informers' initial lists. The CA is read once
at start from the file the controller manager verifies the apiserver with (``--tls-ca-file``, the
cluster CA); without one the controller has nothing to publish and does nothing.
"""

from __future__ import annotations

import logging
from copy import deepcopy
from pathlib import Path

from skiff.api.core.v1 import config_pb2, namespace_pb2
from skiff_client.controller import ControllerBuilder, Result, WorkLoop
from skiff_common import errors

from skiff_controllers.base import ControllerContext

NAME = "rootcacertpublisher"
CONFIGMAP = "kube-root-ca.crt"
KEY = "ca.crt"
# Kubernetes marks the ConfigMap so tools can tell who owns it.
ANNOTATION = "kubernetes.io/description"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such "
    "as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions "
    "of Kubernetes clusters."
)

log = logging.getLogger(__name__)


class RootCACertPublisher:
    def __init__(self, ctx: ControllerContext, root_ca: str, workers: int = 1) -> None:
        self.api = ctx.api
        self.root_ca = root_ca
        self.namespaces = ctx.factory.informer(namespace_pb2.Namespace)
        self.configmaps = ctx.factory.informer(config_pb2.ConfigMap)
        self.loop: WorkLoop = (
            ControllerBuilder(NAME, ctx.factory)
            .for_(namespace_pb2.Namespace)
            .watches(config_pb2.ConfigMap, _namespace_of_ours)
            .workers(workers)
            .complete(self.reconcile)
        )

    async def reconcile(self, key: str) -> Result | None:
        if not self.root_ca:
            return None
        ns = self.namespaces.store.get(key)
        if ns is None or ns.metadata.HasField("deletion_timestamp") or ns.status.phase == "Terminating":
            return None
        current = self.configmaps.store.get(f"{key}/{CONFIGMAP}")
        try:
            if current is None:
                cm = config_pb2.ConfigMap(api_version="v1", kind="ConfigMap")
                cm.metadata.name, cm.metadata.namespace = CONFIGMAP, key
                cm.metadata.annotations[ANNOTATION] = DESCRIPTION
                cm.data[KEY] = self.root_ca
                await self.api.create(cm)
            elif dict(current.data) != {KEY: self.root_ca} or current.binary_data:
                cm = deepcopy(current)  # never mutate the cache's object
                cm.data.clear()
                cm.binary_data.clear()
                cm.data[KEY] = self.root_ca
                cm.metadata.annotations[ANNOTATION] = DESCRIPTION
                await self.api.update(cm)
        except (errors.AlreadyExists, errors.Conflict, errors.NotFound):
            return Result(requeue_after=1.0)  # the cache is behind: look again
        except errors.FailedPrecondition:
            pass  # the namespace started terminating meanwhile
        return None


def _namespace_of_ours(cm: config_pb2.ConfigMap) -> list[str]:
    return [cm.metadata.namespace] if cm.metadata.name == CONFIGMAP else []


def read_root_ca(path: str) -> str:
    if not path:
        log.warning("root-ca-cert-publisher: no --tls-ca-file, so no kube-root-ca.crt is published")
        return ""
    return Path(path).read_text()


def new_rootcacertpublisher(ctx: ControllerContext) -> RootCACertPublisher:
    return RootCACertPublisher(ctx, read_root_ca(ctx.config.tls_ca_file))
