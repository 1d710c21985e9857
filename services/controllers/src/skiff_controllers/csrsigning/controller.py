"""CSR signer: issues approved requests with the cluster CA, as kube-controller-manager's csrsigning
controller (--cluster-signing-cert-file / --cluster-signing-key-file).

It signs for Kubernetes' kubelet client, kubelet serving and apiserver client signers: an approved
request without a certificate gets one whose subject and SANs are the request's, whose extended key
usage is only what the signer allows (clientAuth or serverAuth, never both), valid for the request's
expirationSeconds capped by --cluster-signing-duration and by the CA's own expiry. A request that does
not fit its signer gets a Failed condition instead (Kubernetes' "SignerValidationFailure"). Without a
CA configured the controller does nothing, like the upstream one without signing files.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.timestamp_pb2 import Timestamp
from skiff.api.certificates.v1 import certificates_pb2
from skiff_client import object_key
from skiff_common import errors
from skiff_common.pki import csr as csrs
from skiff_common.pki.issue import sign_public_key

from skiff_controllers.base import Controller, ControllerContext, Result


def approved(req: certificates_pb2.CertificateSigningRequest) -> bool:
    kinds = {c.type for c in req.status.conditions}
    return "Approved" in kinds and "Denied" not in kinds and "Failed" not in kinds


class CSRSigner(Controller):
    name = "csrsigning"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        cfg = ctx.config
        self.ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
        if cfg.cluster_signing_cert_file and cfg.cluster_signing_key_file:
            self.ca = load_ca(Path(cfg.cluster_signing_cert_file), Path(cfg.cluster_signing_key_file))
        self.max_duration = dt.timedelta(seconds=cfg.cluster_signing_duration)
        self.csrs = ctx.factory.informer(certificates_pb2.CertificateSigningRequest)
        self.csrs.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))

    def _enqueue(self, req: certificates_pb2.CertificateSigningRequest) -> None:
        if self.ca is not None and approved(req) and not req.status.certificate:
            self.queue.add(object_key(req))

    def issue(self, req: certificates_pb2.CertificateSigningRequest) -> bytes | str:
        """The PEM certificate for an approved request, or why it cannot be issued."""
        assert self.ca is not None
        spec = req.spec
        if spec.signer_name not in csrs.KNOWN_SIGNERS:
            return ""  # another signer's request: not ours to fail
        try:
            parsed = x509.load_pem_x509_csr(spec.request)
        except ValueError as exc:
            return f"the request is not a PEM certificate request: {exc}"
        why = csrs.check_request(spec.signer_name, parsed, list(spec.usages))
        if why is not None:
            return why
        public_key = parsed.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            return "only ECDSA keys are signed (the cluster's key type)"
        duration = self.max_duration
        if spec.HasField("expiration_seconds"):
            duration = min(duration, dt.timedelta(seconds=spec.expiration_seconds))
        cert = sign_public_key(
            public_key,
            parsed.subject,
            csrs.extended_key_usages(list(spec.usages)),
            csrs.requested_hosts(parsed),
            *self.ca,
            validity=duration,
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    async def reconcile(self, key: str) -> Result | None:
        req = self.csrs.store.get(key)
        if req is None or self.ca is None or not approved(req) or req.status.certificate:
            return None
        outcome = self.issue(req)
        if outcome == "":
            return None
        signed = copy.deepcopy(req)  # never the cached object
        if isinstance(outcome, bytes):
            signed.status.certificate = outcome
        else:
            now = Timestamp()
            now.FromDatetime(dt.datetime.now(dt.UTC))
            signed.status.conditions.add(
                type="Failed",
                status="True",
                reason="SignerValidationFailure",
                message=outcome,
                last_update_time=now,
                last_transition_time=now,
            )
        try:
            # PUT certificatesigningrequests/{name}/status (verb update), at the resourceVersion read
            await self.api.update_status(signed)
        except errors.NotFound:
            return None
        return None


def load_ca(cert_file: Path, key_file: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"--cluster-signing-key-file: {key_file} is not an ECDSA private key")
    return cert, key


def new_csrsigning(ctx: ControllerContext) -> CSRSigner:
    return CSRSigner(ctx)
