"""Token cleaner: deletes bootstrap token Secrets once their `expiration` has passed, as
kube-controller-manager's tokencleaner does.

Each token Secret in kube-system is a key; the reconcile deletes an expired one (with a precondition on
its UID, so a token recreated under the same name is not deleted by mistake) and requeues an unexpired
one for its expiry time. A restart finds every Secret in the informer's first list, so tokens that
expired while the controller was down go at once.
"""

from __future__ import annotations

import datetime as dt

from skiff.api.core.v1 import config_pb2
from skiff_client import object_key
from skiff_common import errors
from skiff_common.bootstrap import token

from skiff_controllers.base import Controller, ControllerContext, Result


class TokenCleaner(Controller):
    name = "tokencleaner"
    workers = 1

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.secrets = ctx.factory.informer(config_pb2.Secret, token.NAMESPACE)
        self.secrets.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))

    def _enqueue(self, secret: config_pb2.Secret) -> None:
        if secret.type == token.SECRET_TYPE:
            self.queue.add(object_key(secret))

    async def reconcile(self, key: str) -> Result | None:
        secret = self.secrets.store.get(key)
        if secret is None or secret.type != token.SECRET_TYPE:
            return None
        raw = secret.data.get("expiration", b"").decode(errors="replace")
        if not raw:
            return None  # never expires
        try:
            expires = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None  # not a time: Kubernetes' cleaner leaves such a Secret alone too
        if expires.tzinfo is None:
            return None
        left = (expires - dt.datetime.now(dt.UTC)).total_seconds()
        if left > 0:
            return Result(requeue_after=left + 0.5)
        try:
            await self.api.delete(
                config_pb2.Secret,
                secret.metadata.name,
                secret.metadata.namespace,
                preconditions_uid=secret.metadata.uid,
            )
        except (errors.NotFound, errors.Conflict):
            pass  # gone already, or a new token under the same name
        return None


def new_tokencleaner(ctx: ControllerContext) -> TokenCleaner:
    return TokenCleaner(ctx)
