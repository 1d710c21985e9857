"""Builders for RBAC objects and a call helper that returns (allowed, message)."""

from __future__ import annotations

from typing import Any

import grpc
from skiff.api.rbac.v1 import rbac_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.machinery import kinds

RBAC = "rbac.authorization.k8s.io"


def role(name: str, namespace: str, *rules: rbac_pb2.PolicyRule, cluster: bool = False) -> Any:
    obj: Any = rbac_pb2.ClusterRole() if cluster else rbac_pb2.Role()
    obj.metadata.name = name
    if not cluster:
        obj.metadata.namespace = namespace
    obj.rules.extend(rules)
    return obj


def rule(verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None) -> Any:
    return rbac_pb2.PolicyRule(verbs=verbs, api_groups=groups, resources=resources, resource_names=names or [])


def binding(
    name: str, namespace: str, ref_kind: str, ref_name: str, *subjects: tuple[str, str], cluster: bool = False
) -> Any:
    obj: Any = rbac_pb2.ClusterRoleBinding() if cluster else rbac_pb2.RoleBinding()
    obj.metadata.name = name
    if not cluster:
        obj.metadata.namespace = namespace
    obj.role_ref.api_group, obj.role_ref.kind, obj.role_ref.name = RBAC, ref_kind, ref_name
    for kind, subject in subjects:
        if kind == "ServiceAccount":
            ns, _, sa = subject.partition("/")
            obj.subjects.add(kind=kind, name=sa, namespace=ns)
        else:
            obj.subjects.add(kind=kind, name=subject, api_group=RBAC)
    return obj


async def create(stub: Any, obj: Any) -> Any:
    return kinds.unpack((await stub.Create(pb.CreateRequest(object=kinds.pack(obj)))).object)


async def attempt(coro: Any) -> tuple[bool, str]:
    """(True, "") when the call succeeds; (False, details) when PERMISSION_DENIED; other errors raise."""
    try:
        await coro
        return True, ""
    except grpc.aio.AioRpcError as err:
        if err.code() != grpc.StatusCode.PERMISSION_DENIED:
            raise
        return False, err.details() or ""


async def create_seen(cluster: Any, stub: Any, obj: Any) -> Any:
    """Create, then wait until the watch cache RBAC reads has applied it (authorization reads caches)."""
    import asyncio

    out = await create(stub, obj)
    cache = cluster.server.app.caches[kinds.kind_of(out).resource]
    for _ in range(1000):
        if cache.revision >= int(out.metadata.resource_version):
            return out
        await asyncio.sleep(0.01)
    raise AssertionError("the watch cache never caught up")
