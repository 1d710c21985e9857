"""CSR approver and signer against a real apiserver: a bootstrapping node's request is approved and
signed with the cluster CA as a clientAuth-only system:node certificate; requests for the wrong
identity are not approved; an approved request that does not fit its signer fails instead of being
signed; the strategy refuses a request that is not a CSR, naming the field."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from skiff.api.certificates.v1 import certificates_pb2
from skiff_client import ApiClient, EventRecorder, InformerFactory
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_common.pki import ClusterPKI, identity_of, kubelet_profiles
from skiff_common.pki import csr as csrs
from skiff_controllers.base import ControllerContext
from skiff_controllers.config import ControllersConfig
from skiff_controllers.csrapproving.controller import CSRApprover
from skiff_controllers.csrsigning.controller import CSRSigner

pytestmark = pytest.mark.etcd
CSR = certificates_pb2.CertificateSigningRequest


@asynccontextmanager
async def controllers(
    client: ApiClient, pki_dir: Path, *makes: Callable[[ControllerContext], Any]
) -> AsyncIterator[None]:
    store = ClusterPKI(pki_dir)
    store.ensure(kubelet_profiles("seed"))  # makes the CA
    cfg = ControllersConfig(
        cluster_signing_cert_file=str(store.path("ca")), cluster_signing_key_file=str(store.path("ca", "key"))
    )
    ctx = ControllerContext(
        api=client, factory=InformerFactory(client), events=EventRecorder(client, "test"), config=cfg
    )
    made = [make(ctx) for make in makes]
    ctx.factory.start()
    tasks = [asyncio.create_task(c.run()) for c in made]
    try:
        yield
    finally:
        for c in made:
            c.queue.shutdown()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ctx.factory.stop()


def request(
    cn: str,
    orgs: tuple[str, ...] = ("system:nodes",),
    *,
    username: str,
    groups: tuple[str, ...] = (),
    usages: tuple[str, ...] = ("digital signature", "client auth"),
    signer: str = csrs.KUBELET_CLIENT,
) -> CSR:
    key = ec.generate_private_key(ec.SECP256R1())
    req = CSR()
    req.metadata.name = f"csr-{uuid.uuid4().hex[:8]}"
    req.spec.request = csrs.make_request(key, cn, orgs)
    req.spec.signer_name = signer
    req.spec.usages.extend(usages)
    req.spec.username = username  # no authenticator on the test server: the client's value is kept
    req.spec.groups.extend(groups)
    return req


async def issued(client: ApiClient, name: str) -> x509.Certificate | None:
    got = await client.get(CSR, name)
    return x509.load_pem_x509_certificate(got.status.certificate) if got.status.certificate else None


async def test_a_bootstrapping_node_gets_a_client_certificate(client: ApiClient, tmp_path: Path) -> None:
    boot = request(
        "system:node:n1",
        username="system:bootstrap:abcdef",
        groups=("system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"),
    )
    renewal = request("system:node:n2", username="system:node:n2")
    await client.create(boot)
    await client.create(renewal)
    async with controllers(client, tmp_path / "pki", CSRApprover, CSRSigner):
        cert = await eventually(lambda: issued(client, boot.metadata.name), "the bootstrap CSR to be signed")
        await eventually(lambda: issued(client, renewal.metadata.name), "the self-renewal CSR to be signed")
    got = await client.get(CSR, boot.metadata.name)
    assert [(c.type, c.reason) for c in got.status.conditions] == [("Approved", "AutoApproved")]
    ident = identity_of(cert)
    assert (ident.user, ident.groups) == ("system:node:n1", ("system:nodes",))
    eku = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert eku == {ExtendedKeyUsageOID.CLIENT_AUTH}
    ca = x509.load_pem_x509_certificate((tmp_path / "pki" / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)


@pytest.mark.parametrize(
    ("cn", "orgs", "username", "groups"),
    [
        ("system:node:n1", ("system:masters",), "system:bootstrap:abcdef", ("system:bootstrappers",)),
        ("system:node:n1", ("system:nodes",), "system:node:n2", ("system:nodes",)),  # another node's name
        ("kubernetes-admin", ("system:nodes",), "system:bootstrap:abcdef", ("system:bootstrappers",)),
        ("system:node:n1", ("system:nodes",), "someone", ("developers",)),
    ],
)
async def test_wrong_identities_are_not_approved(
    client: ApiClient, tmp_path: Path, cn: str, orgs: tuple[str, ...], username: str, groups: tuple[str, ...]
) -> None:
    bad = request(cn, orgs, username=username, groups=groups)
    good = request("system:node:n9", username="system:bootstrap:abcdef", groups=("system:bootstrappers",))
    await client.create(bad)
    await client.create(good)
    async with controllers(client, tmp_path / "pki", CSRApprover, CSRSigner):
        # once a request made after it is signed, the bad one has been looked at too
        await eventually(lambda: issued(client, good.metadata.name), "the good CSR to be signed")
    got = await client.get(CSR, bad.metadata.name)
    assert not got.status.conditions and not got.status.certificate


async def test_an_approved_request_that_does_not_fit_its_signer_fails(client: ApiClient, tmp_path: Path) -> None:
    serving = request("system:node:n1", username="admin", usages=("digital signature", "server auth"))
    created = await client.create(serving)
    approve = {"type": "Approved", "status": "True", "reason": "ByHand", "message": "ok"}
    await client.patch(CSR, created.metadata.name, "", {"status": {"conditions": [approve]}}, subresource="approval")
    async with controllers(client, tmp_path / "pki", CSRSigner):

        async def failed() -> CSR | None:
            got = await client.get(CSR, created.metadata.name)
            return got if any(c.type == "Failed" for c in got.status.conditions) else None

        got = await eventually(failed, "the request to fail")
    assert not got.status.certificate
    assert "do not fit" in next(c.message for c in got.status.conditions if c.type == "Failed")


async def test_the_strategy_refuses_what_is_not_a_csr(client: ApiClient) -> None:
    bad = request("system:node:n1", username="x")
    bad.spec.request = b"-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----\n"
    bad.spec.signer_name = ""
    with pytest.raises(errors.Invalid) as info:
        await client.create(bad)
    fields = {e.path for e in info.value.errors}
    assert {"spec.request", "spec.signerName"} <= fields
    # a certificate cannot be put in through status before approval
    ok = await client.create(request("system:node:n1", username="x"))
    with pytest.raises(errors.Invalid, match=r"status\.certificate"):
        await client.patch(CSR, ok.metadata.name, "", {"status": {"certificate": "Zm9v"}}, subresource="status")
