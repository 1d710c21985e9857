"""Certificate requests, both sides: what a kubelet asks for, and what Kubernetes' signers may issue.

Signer names are Kubernetes': `kubernetes.io/kube-apiserver-client-kubelet` issues node client
certificates (CN system:node:<name>, O system:nodes, clientAuth, no SANs), `kubernetes.io/kubelet-serving`
node serving certificates (same subject, serverAuth, the node's names and addresses), and
`kubernetes.io/kube-apiserver-client` any client identity (approved by hand). `check_request` says why a
request does not fit its signer (None when it does); the approver and the signer both apply it.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from .files import san
from .identity import identity_of
from .issue import subject
from .profiles import NODES_GROUP

KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KNOWN_SIGNERS = (KUBELET_CLIENT, KUBELET_SERVING, APISERVER_CLIENT)
_USAGE_EKU = {"client auth": ExtendedKeyUsageOID.CLIENT_AUTH, "server auth": ExtendedKeyUsageOID.SERVER_AUTH}
_KEY_USAGES = {"digital signature", "key encipherment"}
_ALLOWED = {
    KUBELET_CLIENT: ({"client auth"}, {"client auth"}),  # (required, allowed EKU usages)
    KUBELET_SERVING: ({"server auth"}, {"server auth"}),
    APISERVER_CLIENT: ({"client auth"}, {"client auth"}),
}


def make_request(
    key: ec.EllipticCurvePrivateKey, common_name: str, organizations: Sequence[str], hosts: Sequence[str] = ()
) -> bytes:
    """A PEM CSR for `key` with this subject (and SANs for a serving certificate)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject(common_name, organizations))
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([san(h) for h in hosts]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def requested_hosts(csr: x509.CertificateSigningRequest) -> list[str]:
    try:
        value = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    if value.get_values_for_type(x509.RFC822Name) or value.get_values_for_type(x509.UniformResourceIdentifier):
        return ["<email-or-uri>"]  # never allowed: check_request refuses it
    return [str(v) for v in value.get_values_for_type(x509.IPAddress)] + list(value.get_values_for_type(x509.DNSName))


def check_request(signer: str, csr: x509.CertificateSigningRequest, usages: Sequence[str]) -> str | None:
    """Why this request may not be issued by `signer`, or None when it may."""
    if signer not in _ALLOWED:
        return f"signer {signer!r} is not served by this controller"
    required, allowed = _ALLOWED[signer]
    extended = set(usages) - _KEY_USAGES
    if not required <= extended or not extended <= allowed:
        return f"usages {sorted(usages)} do not fit {signer} (needs {sorted(required)}, key usages aside)"
    who = identity_of_request(csr)
    hosts = requested_hosts(csr)
    if signer in (KUBELET_CLIENT, KUBELET_SERVING):
        if not who[0].startswith("system:node:") or len(who[0]) == len("system:node:"):
            return f"subject CN {who[0]!r} is not system:node:<name>"
        if who[1] != (NODES_GROUP,):
            return f"subject O {list(who[1])} must be exactly [{NODES_GROUP}]"
    if signer == KUBELET_SERVING:
        if not hosts or "<email-or-uri>" in hosts:
            return "a kubelet serving certificate names the node's DNS names and IP addresses only, and at least one"
    elif hosts:
        return "a client certificate request may not carry subject alternative names"
    return None


def identity_of_request(csr: x509.CertificateSigningRequest) -> tuple[str, tuple[str, ...]]:
    ident = identity_of(csr)  # the same CN/O reading as a certificate's
    return ident.user, ident.groups


def extended_key_usages(usages: Sequence[str]) -> list[x509.ObjectIdentifier]:
    return [_USAGE_EKU[u] for u in usages if u in _USAGE_EKU]
