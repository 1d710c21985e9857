"""UpdateStatus with a named subresource (`finalize`, `approval`, `status`) on a real apiserver with
Node,RBAC: it is authorized as verb `update` on <resource>/<subresource> as REST PUT is, so the bootstrap
roles of namespace-controller and certificate-controller (exactly Kubernetes', no `patch`) are enough, and
a PATCH of the same subresource by those identities is refused."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric import ec
from rbac_helpers import attempt, create
from skiff.api.certificates.v1 import certificates_pb2
from skiff.api.core.v1 import config_pb2, namespace_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.machinery import kinds
from skiff_common.pki import csr as csrs

MASTERS = ("system:masters",)
SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:kube-system")


def _controller(secure: Any, name: str) -> Any:
    """The apiserver as the controller's ServiceAccount sees it (a certificate with the SA's user name)."""
    return secure.as_user(f"system:serviceaccount:kube-system:{name}", SA_GROUPS)


def _update(obj: Any, subresource: str) -> pb.UpdateStatusRequest:
    return pb.UpdateStatusRequest(object=kinds.pack(obj), subresource=subresource)


def _merge(resource: str, name: str, subresource: str, body: dict[str, Any]) -> pb.PatchRequest:
    return pb.PatchRequest(
        resource=resource,
        name=name,
        patch_type="application/merge-patch+json",
        patch=json.dumps(body).encode(),
        subresource=subresource,
    )


async def _get(stub: Any, resource: str, name: str) -> Any:
    return kinds.unpack((await stub.Get(pb.GetRequest(resource=resource, name=name))).object)


async def test_namespace_controller_finalizes_by_update_not_patch(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    ns = namespace_pb2.Namespace()
    ns.metadata.name = "finalize-me"
    created = await create(admin, ns)
    controller = _controller(secure, "namespace-controller")
    ok, msg = await attempt(controller.Patch(_merge("namespaces", "finalize-me", "finalize", {"spec": {}})))
    assert not ok and 'cannot patch resource "namespaces/finalize"' in msg
    del created.spec.finalizers[:]
    ok, _ = await attempt(controller.UpdateStatus(_update(created, "finalize")))
    assert ok
    assert list((await _get(admin, "namespaces", "finalize-me")).spec.finalizers) == []
    # and nobody else may
    ok, msg = await attempt(secure.as_user("nobody").UpdateStatus(_update(created, "finalize")))
    assert not ok and 'cannot update resource "namespaces/finalize"' in msg


async def test_certificate_controller_approves_and_signs_by_update(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    req = certificates_pb2.CertificateSigningRequest()
    req.metadata.name = "csr-by-update"
    req.spec.request = csrs.make_request(ec.generate_private_key(ec.SECP256R1()), "someone", ())
    req.spec.signer_name = "kubernetes.io/kube-apiserver-client"
    req.spec.usages.extend(["digital signature", "client auth"])
    created = await create(admin, req)
    controller = _controller(secure, "certificate-controller")
    patch = {"status": {"conditions": [{"type": "Approved", "status": "True", "reason": "R"}]}}
    ok, msg = await attempt(controller.Patch(_merge("certificatesigningrequests", "csr-by-update", "approval", patch)))
    assert not ok and 'cannot patch resource "certificatesigningrequests/approval"' in msg
    created.status.conditions.add(type="Approved", status="True", reason="AutoApproved")
    created.status.certificate = b"ignored: not the approval's part"
    ok, _ = await attempt(controller.UpdateStatus(_update(created, "approval")))
    assert ok
    got = await _get(admin, "certificatesigningrequests", "csr-by-update")
    assert [c.type for c in got.status.conditions] == ["Approved"] and not got.status.certificate
    got.status.conditions.add(type="Failed", status="True", reason="SignerValidationFailure")
    ok, _ = await attempt(controller.UpdateStatus(_update(got, "")))  # "" is status
    assert ok
    got = await _get(admin, "certificatesigningrequests", "csr-by-update")
    assert [c.type for c in got.status.conditions] == ["Approved", "Failed"]


async def test_a_subresource_the_kind_lacks_is_a_clear_error(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    cm = config_pb2.ConfigMap()
    cm.metadata.name, cm.metadata.namespace = "no-finalize", "default"
    created = await create(admin, cm)
    try:
        await admin.UpdateStatus(_update(created, "finalize"))
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "subresource" in (err.details() or "") and "finalize" in (err.details() or "")
    else:
        raise AssertionError("UpdateStatus of configmaps/finalize was accepted")


async def test_rest_put_of_finalize_replaces_spec_finalizers(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    ns = namespace_pb2.Namespace()
    ns.metadata.name = "rest-finalize"
    await create(admin, ns)
    tls = secure.cert("kubernetes-admin", MASTERS)
    ctx = ssl.create_default_context(cafile=tls.ca_file)
    ctx.load_cert_chain(tls.cert_file, tls.key_file)
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "rest-finalize"}, "spec": {"finalizers": []}}
    put = urllib.request.Request(
        f"{secure.rest_url}/api/v1/namespaces/rest-finalize/finalize",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )

    def send() -> dict[str, Any]:
        with urllib.request.urlopen(put, context=ctx, timeout=10) as resp:
            return dict(json.load(resp))

    answer = await asyncio.to_thread(send)
    assert answer["spec"].get("finalizers", []) == []
    assert list((await _get(admin, "namespaces", "rest-finalize")).spec.finalizers) == []
