"""ServiceAccounts controller: every active namespace has a ServiceAccount named `default`, as
kube-controller-manager's serviceaccount-controller ensures.

reconcile(namespace)::

    namespace gone or terminating -> nothing (the namespace controller empties it)
    `default` in the cache        -> nothing
    otherwise                     -> create it (AlreadyExists: someone was faster, fine)

Woken by namespaces (a new one) and by ServiceAccount deletions (a deleted `default` comes back).
Level-triggered: a restart finds every namespace in the informer's initial list.
"""

from __future__ import annotations

from skiff.api.core.v1 import namespace_pb2, serviceaccount_pb2
from skiff_client.controller import ControllerBuilder, Result, WorkLoop
from skiff_common import errors

from skiff_controllers.base import ControllerContext

NAME = "serviceaccount"
DEFAULT = "default"


class ServiceAccountsController:
    def __init__(self, ctx: ControllerContext, workers: int = 1) -> None:
        self.api = ctx.api
        self.namespaces = ctx.factory.informer(namespace_pb2.Namespace)
        self.accounts = ctx.factory.informer(serviceaccount_pb2.ServiceAccount)
        self.loop: WorkLoop = (
            ControllerBuilder(NAME, ctx.factory)
            .for_(namespace_pb2.Namespace)
            .watches(serviceaccount_pb2.ServiceAccount, lambda sa: [sa.metadata.namespace])
            .workers(workers)
            .complete(self.reconcile)
        )

    async def reconcile(self, key: str) -> Result | None:
        ns = self.namespaces.store.get(key)
        if ns is None or ns.metadata.HasField("deletion_timestamp") or ns.status.phase == "Terminating":
            return None
        if self.accounts.store.get(f"{key}/{DEFAULT}") is not None:
            return None
        sa = serviceaccount_pb2.ServiceAccount(api_version="v1", kind="ServiceAccount")
        sa.metadata.name, sa.metadata.namespace = DEFAULT, key
        try:
            await self.api.create(sa)
        except errors.AlreadyExists:
            pass
        except errors.FailedPrecondition:
            pass  # the namespace started terminating meanwhile
        return None


def new_serviceaccount(ctx: ControllerContext) -> ServiceAccountsController:
    return ServiceAccountsController(ctx)
