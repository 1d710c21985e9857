"""The request attributes an aggregated API's request is authorized by, as kube-apiserver's request info
reads the path (then RBAC decides: `list pods.metrics.k8s.io`, `get nodes.metrics.k8s.io`...)."""

from __future__ import annotations

import pytest
from skiff_apiserver.auth.user import UserInfo
from skiff_apiserver.rest.aggregator import request_attributes

ALICE = UserInfo("alice", ("system:authenticated",))


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods", {}, ("list", "pods", "", "ns", "")),
        ("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/p", {}, ("get", "pods", "", "ns", "p")),
        ("GET", "/apis/metrics.k8s.io/v1beta1/pods", {"watch": "true"}, ("watch", "pods", "", "", "")),
        ("GET", "/apis/metrics.k8s.io/v1beta1/nodes/n1", {}, ("get", "nodes", "", "", "n1")),
        ("GET", "/apis/custom.metrics.k8s.io/v1beta1/namespaces/ns/pods/*/qps", {}, ("get", "pods", "qps", "ns", "*")),
        ("DELETE", "/apis/example.com/v1/namespaces/ns/things", {}, ("deletecollection", "things", "", "ns", "")),
        ("POST", "/apis/example.com/v1/namespaces/ns/things", {}, ("create", "things", "", "ns", "")),
    ],
)
def test_attributes_from_the_path(method: str, path: str, query: dict[str, str], expected: tuple[str, ...]) -> None:
    a = request_attributes(ALICE, method, path, query)
    assert (a.verb, a.resource, a.subresource, a.namespace, a.name) == expected
    assert a.api_group == path.split("/")[2] and a.user is ALICE
