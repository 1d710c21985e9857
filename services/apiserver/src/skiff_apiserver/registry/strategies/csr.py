"""CertificateSigningRequests (certificates.k8s.io/v1), as Kubernetes' CSR strategy:

* create: status is cleared, and the requester's identity (spec.username, uid, groups) is set
  from the request's authenticated user, never taken from the client: approvers decide on it. Until the
  authenticator publishes the user of the request in progress (`requester()`, from the authn module
  when present), a client's values are kept, which is only safe on a server without untrusted clients.
* spec is immutable once created; approval (the Approved/Denied conditions) changes only through the
  `approval` subresource and the issued certificate only through `status`, and only once approved.
* validation: spec.request must be a PEM CERTIFICATE REQUEST whose signature checks, spec.signerName a
  qualified name, usages Kubernetes' key usages, expirationSeconds at least 600; Approved and Denied
  are exclusive.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from cryptography import x509
from google.protobuf.message import Message
from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategy import Strategy, copy, immutable

APPROVAL_TYPES = ("Approved", "Denied")
KEY_USAGES = {
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
}
_SIGNER = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")


def requester() -> tuple[str, str, tuple[str, ...]] | None:
    """(name, uid, groups) of the request being served, from the authentication module when there is
    one (skiff_apiserver.auth.user.current); None when no user is known."""
    try:
        module: Any = importlib.import_module("skiff_apiserver.auth.user")
    except ImportError:
        return None
    user = module.current()
    if user is None:
        return None
    return str(user.name), str(getattr(user, "uid", "")), tuple(user.groups)


def parse_request(pem: bytes) -> x509.CertificateSigningRequest:
    csr = x509.load_pem_x509_csr(pem)
    if not csr.is_signature_valid:
        raise ValueError("the request's signature does not match its public key")
    return csr


class CertificateSigningRequestStrategy(Strategy):
    def prepare_for_create(self, obj: Any) -> None:
        super().prepare_for_create(obj)
        who = requester()
        if who is not None:
            obj.spec.username, obj.spec.uid = who[0], who[1]
            del obj.spec.groups[:]
            obj.spec.groups.extend(who[2])

    def validate(self, obj: Any) -> list[FieldError]:
        errs: list[FieldError] = []
        spec = obj.spec
        if not spec.request:
            errs.append(FieldError("spec.request", "Required value"))
        else:
            try:
                parse_request(spec.request)
            except ValueError as exc:
                errs.append(FieldError("spec.request", "Invalid value", f"<PEM data>: {exc}"))
        if not spec.signer_name:
            errs.append(FieldError("spec.signerName", "Required value"))
        elif not _SIGNER.match(spec.signer_name):
            errs.append(FieldError("spec.signerName", "Invalid value", repr(spec.signer_name)))
        for i, usage in enumerate(spec.usages):
            if usage not in KEY_USAGES:
                errs.append(FieldError(f"spec.usages[{i}]", "Unsupported value", repr(usage)))
        if spec.HasField("expiration_seconds") and spec.expiration_seconds < 600:
            errs.append(
                FieldError(
                    "spec.expirationSeconds", "Invalid value", "may not specify a duration less than 600 seconds"
                )
            )
        kinds = {c.type for c in obj.status.conditions}
        if {"Approved", "Denied"} <= kinds:
            errs.append(
                FieldError(
                    "status.conditions", "Invalid value", "Approved and Denied conditions are mutually exclusive"
                )
            )
        if obj.status.certificate and "Approved" not in kinds:
            errs.append(
                FieldError(
                    "status.certificate", "Forbidden", "a certificate may only be issued for an approved request"
                )
            )
        if obj.status.certificate:
            try:
                x509.load_pem_x509_certificates(obj.status.certificate)
            except ValueError:
                errs.append(FieldError("status.certificate", "Invalid value", "<PEM data>: not PEM certificates"))
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = self.validate(new) + immutable("spec", new.spec, old.spec)
        if old.status.certificate and new.status.certificate != old.status.certificate:
            errs.append(
                FieldError("status.certificate", "Forbidden", "updates may not modify the certificate once set")
            )
        return errs

    def merge_for_subresource_update(self, subresource: str, new: Any, old: Any) -> Message:
        out: Any = copy(old)
        if subresource == "approval":  # only the Approved/Denied conditions
            keep = [c for c in old.status.conditions if c.type not in APPROVAL_TYPES]
            take = [c for c in new.status.conditions if c.type in APPROVAL_TYPES]
        elif subresource == "status":  # the certificate and the other conditions, not the approval
            keep = [c for c in old.status.conditions if c.type in APPROVAL_TYPES]
            take = [c for c in new.status.conditions if c.type not in APPROVAL_TYPES]
            out.status.certificate = new.status.certificate
        else:
            return super().merge_for_subresource_update(subresource, new, old)
        del out.status.conditions[:]
        out.status.conditions.extend([*keep, *take])
        return out  # type: ignore[no-any-return]
