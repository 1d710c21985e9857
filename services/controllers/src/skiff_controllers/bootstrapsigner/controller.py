"""Bootstrap signer: keeps one JWS signature per signing token in the `cluster-info` ConfigMap, as
kube-controller-manager's bootstrapsigner does.

kube-public/cluster-info carries the CA and the server in a kubeconfig; for every bootstrap token Secret
in kube-system that is valid, unexpired and has `usage-bootstrap-signing`, the controller writes
`jws-kubeconfig-<token-id>` = a detached HS256 JWS of that kubeconfig keyed by the token secret, and it
removes the signature of a token that is gone, expired or no longer for signing. A joining node proves
cluster-info came from a holder of its token by checking that signature.

Level-triggered on one key: any change to a token Secret or to cluster-info enqueues cluster-info, and
the reconcile computes the whole signature set from the caches; an expiring token requeues itself for
its expiry time, so its signature disappears then even before the token cleaner deletes the Secret.
"""

from __future__ import annotations

import datetime as dt

from skiff.api.core.v1 import config_pb2
from skiff_common import errors
from skiff_common.bootstrap import clusterinfo, jws, token

from skiff_controllers.base import Controller, ControllerContext, Result

KEY = f"{clusterinfo.NAMESPACE}/{clusterinfo.NAME}"


class BootstrapSigner(Controller):
    name = "bootstrapsigner"
    workers = 1

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.configmaps = ctx.factory.informer(config_pb2.ConfigMap, clusterinfo.NAMESPACE)
        self.secrets = ctx.factory.informer(config_pb2.Secret, token.NAMESPACE)
        enqueue = lambda *_: self.queue.add(KEY)  # noqa: E731
        self.configmaps.add_handler(on_add=enqueue, on_update=enqueue)
        self.secrets.add_handler(on_add=enqueue, on_update=enqueue, on_delete=enqueue)

    def signing_tokens(self, at: dt.datetime) -> tuple[list[token.BootstrapToken], dt.datetime | None]:
        """Valid signing tokens now, and the earliest expiry among them (when to look again)."""
        out, soonest = [], None
        for secret in self.secrets.store.list():
            if secret.type != token.SECRET_TYPE:
                continue
            try:
                tok = token.from_secret(secret)
            except token.TokenError:
                continue  # a malformed token signs nothing
            if "signing" not in tok.usages or tok.expired(at):
                continue
            out.append(tok)
            if tok.expiration is not None and (soonest is None or tok.expiration < soonest):
                soonest = tok.expiration
        return out, soonest

    async def reconcile(self, key: str) -> Result | None:
        cm = self.configmaps.store.get(KEY)
        if cm is None or clusterinfo.KUBECONFIG_KEY not in cm.data:
            return None
        now = dt.datetime.now(dt.UTC)
        tokens, soonest = self.signing_tokens(now)
        content = cm.data[clusterinfo.KUBECONFIG_KEY]
        wanted = {clusterinfo.JWS_PREFIX + t.id: t for t in tokens}
        data = {k: v for k, v in cm.data.items() if not k.startswith(clusterinfo.JWS_PREFIX) or k in wanted}
        for name, tok in wanted.items():
            # HS256 is deterministic: an existing valid signature is kept byte for byte (no churn)
            if not jws.verify_detached(data.get(name, ""), content, tok.id, tok.secret):
                data[name] = jws.sign_detached(content, tok.id, tok.secret)
        if data != dict(cm.data):
            updated = config_pb2.ConfigMap()
            updated.CopyFrom(cm)
            updated.data.clear()
            updated.data.update(data)
            try:
                await self.api.update(updated)  # a Conflict raises: retried with backoff on a fresh cache
            except errors.NotFound:
                return None
        if soonest is not None:
            return Result(requeue_after=max((soonest - now).total_seconds(), 0.0) + 0.5)
        return None


def new_bootstrapsigner(ctx: ControllerContext) -> BootstrapSigner:
    return BootstrapSigner(ctx)
