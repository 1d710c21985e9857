"""CSR approver: approves kubelets' client certificate requests, as kube-controller-manager's
csrapproving controller does for `kubernetes.io/kube-apiserver-client-kubelet`:

* a bootstrapping node ("nodeclient"): requested by a member of `system:bootstrappers` (a bootstrap
  token's user, system:bootstrap:<id>) for a well-formed node client certificate;
* a node renewing its own ("selfnodeclient"): requested by system:node:<name> for system:node:<name>;
* a node's serving certificate (`kubernetes.io/kubelet-serving`), requested by that node itself.

Kubernetes checks both with a SubjectAccessReview on `certificatesigningrequests/nodeclient` and
`.../selfnodeclient`; kubeadm binds the first to its bootstrap token groups and the second to
system:nodes, which is the rule applied here. Anything else is left for a human (`approve`/`deny`) and
never denied automatically. Level-triggered: every pending request is looked at on each resync.
"""

from __future__ import annotations

import copy
import datetime as dt

from cryptography import x509
from google.protobuf.timestamp_pb2 import Timestamp
from skiff.api.certificates.v1 import certificates_pb2
from skiff_client import object_key
from skiff_common import errors
from skiff_common.pki import csr as csrs

from skiff_controllers.base import Controller, ControllerContext, Result

BOOTSTRAPPERS = "system:bootstrappers"


def is_decided(req: certificates_pb2.CertificateSigningRequest) -> bool:
    return any(c.type in ("Approved", "Denied") for c in req.status.conditions)


def approval_reason(req: certificates_pb2.CertificateSigningRequest) -> str | None:
    """The message to approve with, or None when this controller does not approve the request."""
    spec = req.spec
    if spec.signer_name not in (csrs.KUBELET_CLIENT, csrs.KUBELET_SERVING):
        return None
    try:
        parsed = x509.load_pem_x509_csr(spec.request)
    except ValueError:
        return None
    if csrs.check_request(spec.signer_name, parsed, list(spec.usages)) is not None:
        return None
    node_user, _groups = csrs.identity_of_request(parsed)
    if spec.signer_name == csrs.KUBELET_SERVING:
        # only a node for itself; Kubernetes leaves serving requests to a human or an external approver
        # (it cannot know the node owns the addresses asked for): Skiff's nodes live on addresses the
        # cluster itself hands out, so the node's own request is approved.
        return "Auto approving self kubelet serving certificate." if spec.username == node_user else None
    if spec.username == node_user:
        return "Auto approving self kubelet client certificate after SubjectAccessReview."
    if BOOTSTRAPPERS in spec.groups:
        return "Auto approving kubelet client certificate after SubjectAccessReview."
    return None


class CSRApprover(Controller):
    name = "csrapproving"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.csrs = ctx.factory.informer(certificates_pb2.CertificateSigningRequest)
        self.csrs.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))

    def _enqueue(self, req: certificates_pb2.CertificateSigningRequest) -> None:
        if not is_decided(req):
            self.queue.add(object_key(req))

    async def reconcile(self, key: str) -> Result | None:
        req = self.csrs.store.get(key)
        if req is None or is_decided(req):
            return None
        message = approval_reason(req)
        if message is None:
            return None
        now = Timestamp()
        now.FromDatetime(dt.datetime.now(dt.UTC))
        approved = copy.deepcopy(req)  # never the cached object
        approved.status.conditions.add(
            type="Approved",
            status="True",
            reason="AutoApproved",
            message=message,
            last_update_time=now,
            last_transition_time=now,
        )
        try:
            # PUT certificatesigningrequests/{name}/approval (verb update), at the resourceVersion read
            await self.api.update_status(approved, subresource="approval")
        except errors.NotFound:
            return None
        return None


def new_csrapproving(ctx: ControllerContext) -> CSRApprover:
    return CSRApprover(ctx)
