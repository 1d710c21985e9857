"""The Node authorizer: a kubelet may read only what the pods bound to its node use.

Kubernetes' Node authorizer keeps a graph (pod -> node, secret/configmap/PVC/serviceaccount -> pod) fed
by informers. Here the pods watch cache is that graph's source: a request from `system:node:<name>`
(group `system:nodes`) for a Secret, ConfigMap or PersistentVolumeClaim is allowed when some pod in the
same namespace with `spec.nodeName == <name>` refers to it (volumes, env, envFrom, imagePullSecrets);
a ServiceAccount token only for a ServiceAccount such a pod runs as; Leases only its own in
kube-node-lease. Such reads must name the object (a list or watch of every Secret is refused). Everything
else a kubelet does is decided by the static node rules (the `system:node` ClusterRole's), and what those
allow too broadly -- writing other nodes' Node objects or other nodes' pods' status -- is narrowed by
NodeRestriction admission (admission/noderestriction.py), as in Kubernetes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from skiff_apiserver.auth.attributes import Attributes
from skiff_apiserver.auth.authorizer import NO_OPINION, Answer, Decision
from skiff_apiserver.auth.rbac.policy import NODE_RULES
from skiff_apiserver.auth.rbac.rules import compile_rules
from skiff_apiserver.auth.user import NODE_PREFIX, NODES, UserInfo
from skiff_apiserver.storage.watch_cache import WatchCache

LEASE_NAMESPACE = "kube-node-lease"
_NODE_RULES = compile_rules(NODE_RULES, "")


def node_name(user: UserInfo) -> str | None:
    """The node a user is, "" for a member of system:nodes with a malformed name, None for a non-node."""
    if NODES not in user.groups:
        return None
    return user.name[len(NODE_PREFIX) :] if user.name.startswith(NODE_PREFIX) else ""


def _containers(spec: Any) -> Iterator[Any]:
    yield from spec.init_containers
    yield from spec.containers


def references(pod: Any, kind: str) -> set[str]:
    """Names of the objects of `kind` ("secrets", "configmaps", "persistentvolumeclaims",
    "serviceaccounts") a pod refers to."""
    spec = pod.spec
    out: set[str] = set()
    if kind == "serviceaccounts":
        out.add(spec.service_account_name or "default")
        return out
    for v in spec.volumes:
        if kind == "secrets" and v.HasField("secret"):
            out.add(v.secret.secret_name)
        elif kind == "configmaps" and v.HasField("config_map"):
            out.add(v.config_map.name)
        elif kind == "persistentvolumeclaims" and "persistent_volume_claim" in v.DESCRIPTOR.fields_by_name:
            if v.HasField("persistent_volume_claim"):
                out.add(v.persistent_volume_claim.claim_name)
        if "projected" in v.DESCRIPTOR.fields_by_name and v.HasField("projected"):
            for src in v.projected.sources:
                if kind == "secrets" and src.HasField("secret"):
                    out.add(src.secret.name)
                elif kind == "configmaps" and src.HasField("config_map"):
                    out.add(src.config_map.name)
    if kind == "secrets":
        out.update(s.name for s in spec.image_pull_secrets)
    for c in _containers(spec):
        for e in c.env:
            if kind == "secrets" and e.value_from.HasField("secret_key_ref"):
                out.add(e.value_from.secret_key_ref.name)
            elif kind == "configmaps" and e.value_from.HasField("config_map_key_ref"):
                out.add(e.value_from.config_map_key_ref.name)
        for f in c.env_from:
            if kind == "secrets" and f.HasField("secret_ref"):
                out.add(f.secret_ref.name)
            elif kind == "configmaps" and f.HasField("config_map_ref"):
                out.add(f.config_map_ref.name)
    return out


class NodeAuthorizer:
    def __init__(self, pods: WatchCache) -> None:
        self.pods = pods

    def _used_by_node(self, node: str, namespace: str, kind: str, name: str) -> bool:
        for pod in self.pods.by_namespace.get(namespace, {}).values():
            p: Any = pod
            if p.spec.node_name == node and name in references(p, kind):
                return True
        return False

    def authorize(self, attrs: Attributes) -> Answer:
        node = node_name(attrs.user)
        if node is None:
            return NO_OPINION
        if not node:
            return Answer(Decision.NO_OPINION, f'unknown node for user "{attrs.user.name}"')
        if attrs.resource_request:
            group, resource, sub = attrs.api_group, attrs.resource, attrs.subresource
            if group == "" and resource in ("secrets", "configmaps", "persistentvolumeclaims") and not sub:
                return self._read_used(node, attrs)
            if group == "" and resource == "serviceaccounts" and sub == "token":
                if attrs.verb != "create":
                    return Answer(Decision.NO_OPINION, "can only create tokens for individual service accounts")
                if self._used_by_node(node, attrs.namespace, "serviceaccounts", attrs.name):
                    return Answer(Decision.ALLOW)
                return Answer(Decision.NO_OPINION, f"no relationship found between node '{node}' and this object")
            if group == "coordination.k8s.io" and resource == "leases":
                return self._lease(node, attrs)
        if _NODE_RULES.match(attrs) is not None:
            return Answer(Decision.ALLOW)
        return NO_OPINION

    def _read_used(self, node: str, attrs: Attributes) -> Answer:
        if attrs.verb not in ("get", "list", "watch"):
            return Answer(Decision.NO_OPINION, f"can only read {attrs.resource}")
        if not attrs.name:
            return Answer(Decision.NO_OPINION, "No Object name found")
        if not attrs.namespace:
            return Answer(Decision.NO_OPINION, "can only read namespaced object of this type")
        if self._used_by_node(node, attrs.namespace, attrs.resource, attrs.name):
            return Answer(Decision.ALLOW)
        return Answer(Decision.NO_OPINION, f"no relationship found between node '{node}' and this object")

    def _lease(self, node: str, attrs: Attributes) -> Answer:
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return Answer(Decision.NO_OPINION, "can only get, create, update, patch, or delete a node lease")
        if attrs.namespace != LEASE_NAMESPACE:
            return Answer(Decision.NO_OPINION, f"can only access leases in the {LEASE_NAMESPACE} namespace")
        if attrs.verb != "create" and attrs.name != node:
            return Answer(Decision.NO_OPINION, "can only access node lease with the same name as the requesting node")
        return Answer(Decision.ALLOW)
