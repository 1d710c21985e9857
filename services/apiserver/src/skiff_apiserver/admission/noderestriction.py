"""NodeRestriction admission: what the Node authorizer's static rules allow a kubelet too broadly, limited
to its own node, as Kubernetes' plugin of that name.

A kubelet (`system:node:<name>` in `system:nodes`) may
* create only mirror pods (annotation `kubernetes.io/config.mirror`) bound to itself, update the status
  of and delete only pods bound to itself;
* create and modify only its own Node object;
* create only its own Lease (the Node authorizer cannot see the name of a create);
* request ServiceAccount tokens only bound to a pod (by uid) that is bound to itself
  (``check_token_request``, called by TokenRequest, which is answered outside the registry).
Everyone else passes untouched. It runs inside the registry, so gRPC and REST writes meet it alike.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver.auth import user as users
from skiff_apiserver.auth.node import node_name
from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.registry.strategy import Strategy

MIRROR = "kubernetes.io/config.mirror"


def _node() -> str | None:
    user = users.current()
    return node_name(user) if user is not None else None


def _refuse(info: KindInfo, name: str, why: str) -> errors.Forbidden:
    return errors.Forbidden(f'{info.resource} "{name}" is forbidden: {why}')


class NodeRestriction:
    async def admit_create(self, info: KindInfo, obj: Message, strategy: Strategy) -> None:
        node = _node()
        if node is None:
            return
        o: Any = obj
        name = o.metadata.name
        if info.resource == "pods":
            if MIRROR not in o.metadata.annotations:
                raise _refuse(
                    info, name, f'pod does not have "{MIRROR}" annotation, node "{node}" can only create mirror pods'
                )
            if o.spec.node_name != node:
                raise _refuse(info, name, f'node "{node}" can only create pods with spec.nodeName set to itself')
        elif info.resource == "nodes" and name != node:
            raise _refuse(info, name, f'node "{node}" is not allowed to modify node "{name}"')
        elif info.resource == "leases" and info.group == "coordination.k8s.io" and name != node:
            raise _refuse(info, name, f'node "{node}" is not allowed to create lease "{name}"')

    def admit_update(self, info: KindInfo, new: Message, old: Message) -> None:
        node = _node()
        if node is None:
            return
        o: Any = old
        name = o.metadata.name
        if info.resource == "pods" and o.spec.node_name != node:
            raise _refuse(
                info, name, f'node "{node}" can only update pod status for pods with spec.nodeName set to itself'
            )
        if info.resource == "nodes" and name != node:
            raise _refuse(info, name, f'node "{node}" is not allowed to modify node "{name}"')

    def admit_delete(self, info: KindInfo, obj: Message) -> None:
        node = _node()
        if node is None:
            return
        o: Any = obj
        name = o.metadata.name
        if info.resource == "pods" and o.spec.node_name != node:
            raise _refuse(info, name, f'node "{node}" can only delete pods with spec.nodeName set to itself')
        if info.resource == "nodes" and name != node:
            raise _refuse(info, name, f'node "{node}" is not allowed to modify node "{name}"')


def check_token_request(ref: Any, pod: Any | None) -> None:
    """A kubelet's TokenRequest must be bound, by uid, to a pod on its own node (Kubernetes' messages)."""
    node = _node()
    if node is None:
        return
    if ref.kind != "Pod" or pod is None:
        raise errors.Forbidden("node requested token not bound to a pod")
    if not ref.uid:
        raise errors.Forbidden("node requested token with a pod binding without a uid")
    if pod.spec.node_name != node:
        raise errors.Forbidden("node requested token bound to a pod scheduled on a different node")
