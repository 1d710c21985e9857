"""ServiceAccount tokens on real etcd: TokenRequest issues JWTs with Kubernetes' claims, both ports accept
them as bearer tokens, deleting the ServiceAccount or the bound Pod revokes them, TokenReview reads
them, and `kubectl create token` works."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import aiohttp
import grpc
import jwt
import pytest
from rbac_helpers import attempt, binding, create, create_seen, role, rule
from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff.api.core.v1 import pod_pb2, serviceaccount_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.machinery import kinds
from test_rest_authz import _kubectl

MASTERS = ("system:masters",)


async def _robot(secure: Any) -> tuple[Any, Any]:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    sa = serviceaccount_pb2.ServiceAccount()
    sa.metadata.name, sa.metadata.namespace = "robot", "default"
    sa = await create_seen(secure, admin, sa)
    await create(admin, role("cm-reader", "default", rule(["get", "list"], [""], ["configmaps"])))
    await create_seen(
        secure, admin, binding("robot", "default", "Role", "cm-reader", ("ServiceAccount", "default/robot"))
    )
    return admin, sa


async def _token(admin: Any, **spec: Any) -> Any:
    tr = an.TokenRequest()
    tr.metadata.name, tr.metadata.namespace = "robot", "default"
    for k, v in spec.items():
        if k == "pod":
            tr.spec.bound_object_ref.kind, tr.spec.bound_object_ref.name = "Pod", v.metadata.name
            tr.spec.bound_object_ref.uid = v.metadata.uid
        elif k == "audiences":
            tr.spec.audiences.extend(v)
        else:
            setattr(tr.spec, k, v)
    return kinds.unpack((await admin.Create(pb.CreateRequest(object=kinds.pack(tr)))).object)


def _ctx(secure: Any) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(secure.pki / "ca.crt"))  # no client certificate


async def _rest(secure: Any, path: str, token: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(secure.rest_url + path, ssl=_ctx(secure), headers=headers) as resp:
            return resp.status, await resp.json()


async def test_token_request_claims_and_bearer_on_both_ports(secure) -> None:
    admin, sa = await _robot(secure)
    tr = await _token(admin)
    token = tr.status.token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "system:serviceaccount:default:robot"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["exp"] - claims["iat"] == 3600 == tr.spec.expiration_seconds
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "robot", "uid": sa.metadata.uid}
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    # REST, no client certificate: the token is the identity
    status, _ = await _rest(secure, "/api/v1/namespaces/default/configmaps", token)
    assert status == 200
    status, body = await _rest(secure, "/api/v1/namespaces/default/secrets", token)
    assert status == 403
    assert body["message"] == (
        'secrets is forbidden: User "system:serviceaccount:default:robot" cannot list resource "secrets" in API '
        'group "" in the namespace "default"'
    )
    # gRPC: the token in the call's metadata names who acts over a component's channel
    stub = secure.as_user("some-component")
    md = (("authorization", f"Bearer {token}"),)
    assert (await attempt(stub.List(pb.ListRequest(resource="configmaps", namespace="default"), metadata=md)))[0]
    assert not (await attempt(stub.List(pb.ListRequest(resource="secrets", namespace="default"), metadata=md)))[0]
    # TokenReview (system:auth-delegator's; masters here)
    review = an.TokenReview()
    review.spec.token = token
    answer: Any = kinds.unpack((await admin.Create(pb.CreateRequest(object=kinds.pack(review)))).object)
    assert answer.status.authenticated and answer.status.user.username == "system:serviceaccount:default:robot"
    assert list(answer.status.user.groups) == [
        "system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated",
    ]  # fmt: skip
    # deleting the ServiceAccount revokes its tokens
    await admin.Delete(pb.DeleteRequest(resource="serviceaccounts", namespace="default", name="robot"))
    cache = secure.server.app.caches["serviceaccounts"]
    for _ in range(500):
        if not cache.objects:
            break
        await asyncio.sleep(0.01)
    status, body = await _rest(secure, "/api/v1/namespaces/default/configmaps", token)
    assert status == 401 and "no longer exists" in body["message"]


async def test_bad_tokens_are_401(secure) -> None:
    admin, sa = await _robot(secure)
    issuer = secure.server.app.gate.tokens
    expired, _ = issuer.issue(sa, [], 600, now=time.time() - 7200)
    for token in (expired, "not-a-jwt", (await _token(admin)).status.token[:-4] + "AAAA"):
        status, body = await _rest(secure, "/api/v1/namespaces/default/configmaps", token)
        assert status == 401, body
        assert body["reason"] == "Unauthorized"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _token(admin, expiration_seconds=60)
    assert "spec.expirationSeconds: Invalid value: may not specify a duration less than 10 minutes" in (
        err.value.details() or ""
    )


async def test_pod_bound_token_dies_with_its_pod(secure) -> None:
    admin, _ = await _robot(secure)
    p = pod_pb2.Pod()
    p.metadata.name, p.metadata.namespace = "worker", "default"
    p.spec.service_account_name = "robot"
    p.spec.containers.add(name="c", image="busybox")
    p = await create_seen(secure, admin, p)
    tr = await _token(admin, pod=p, audiences=["vault"])
    claims = jwt.decode(tr.status.token, options={"verify_signature": False})
    assert claims["kubernetes.io"]["pod"] == {"name": "worker", "uid": p.metadata.uid}
    assert claims["aud"] == ["vault"]
    review = an.TokenReview()
    review.spec.token, review.spec.audiences[:] = tr.status.token, ["vault"]
    answer: Any = kinds.unpack((await admin.Create(pb.CreateRequest(object=kinds.pack(review)))).object)
    assert answer.status.authenticated
    assert list(answer.status.user.extra["authentication.kubernetes.io/pod-name"].items) == ["worker"]
    await admin.Delete(pb.DeleteRequest(resource="pods", namespace="default", name="worker", grace_period_seconds=0))
    cache = secure.server.app.caches["pods"]
    for _ in range(500):
        if not cache.objects:
            break
        await asyncio.sleep(0.01)
    answer = kinds.unpack((await admin.Create(pb.CreateRequest(object=kinds.pack(review)))).object)
    assert not answer.status.authenticated and "no longer exists" in answer.status.error


async def test_kubectl_create_token(secure) -> None:
    await _robot(secure)
    out = await asyncio.to_thread(_kubectl, secure, "root", MASTERS, "create", "token", "robot", "--duration=20m")
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), options={"verify_signature": False})
    assert claims["sub"] == "system:serviceaccount:default:robot" and claims["exp"] - claims["iat"] == 1200
