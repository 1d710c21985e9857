"""The kubelet API's authorization as pure logic: Kubernetes' attribute mapping (verb from the method,
subresource from the path), the decision cache's two TTLs, fine-grained fallback to proxy, failing
closed. The reviewer is a fake here (pure logic); test_authz_webhook.py uses a real apiserver."""

from __future__ import annotations

from typing import Any

import pytest
from skiff.api.authorization.v1 import authorization_pb2 as az
from skiff_common import errors
from skiff_kubelet.authz import (
    ALWAYS_ALLOW,
    WEBHOOK,
    ApiAuthorizer,
    DecisionCache,
    Request,
    WebhookAuthorizer,
    subresources_for,
    verb_for,
)
from skiff_kubelet.config import KubeletConfig


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/stats/summary", ("stats",)),
        ("/stats", ("stats",)),
        ("/metrics", ("metrics",)),
        ("/metrics/cadvisor", ("metrics",)),
        ("/metrics/resource", ("metrics",)),
        ("/metricsfoo", ("proxy",)),  # a sub*path*, not a prefix
        ("/logs/messages", ("log",)),
        ("/spec/", ("spec",)),
        ("/pods", ("pods", "proxy")),
        ("/healthz", ("healthz", "proxy")),
        ("/configz", ("configz", "proxy")),
        ("/exec/default/p/c", ("proxy",)),
        ("/attach/default/p/c", ("proxy",)),
        ("/portForward/default/p", ("proxy",)),
        ("/containerLogs/default/p/c", ("proxy",)),
        ("/run/default/p/c", ("proxy",)),
    ],
)
def test_subresource_by_path(path: str, expected: tuple[str, ...]) -> None:
    assert subresources_for(path) == expected


@pytest.mark.parametrize(
    ("method", "verb"),
    [("GET", "get"), ("HEAD", "get"), ("POST", "create"), ("PUT", "update"), ("PATCH", "patch"), ("DELETE", "delete")],
)
def test_verb_by_method(method: str, verb: str) -> None:
    assert verb_for(method) == verb


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _req(user: str = "u", sub: str = "proxy") -> Request:
    return Request(user, ("g",), "create", sub, "n1")


def test_cache_keeps_allowed_and_denied_for_their_own_ttls() -> None:
    from skiff_kubelet.authz import Decision

    clock = Clock()
    cache = DecisionCache(300, 30, clock=clock)
    cache.put(_req("yes"), Decision(True))
    cache.put(_req("no"), Decision(False))
    clock.now += 29
    assert cache.get(_req("yes")) == Decision(True)
    assert cache.get(_req("no")) == Decision(False)
    clock.now += 2
    assert cache.get(_req("no")) is None  # denied expired after 30 s
    assert cache.get(_req("yes")) == Decision(True)
    clock.now += 300
    assert cache.get(_req("yes")) is None


def test_cache_is_bounded() -> None:
    from skiff_kubelet.authz import Decision

    cache = DecisionCache(300, 30, size=2)
    for user in ("a", "b", "c"):
        cache.put(_req(user), Decision(True))
    assert cache.get(_req("a")) is None and cache.get(_req("c")) is not None


class FakeApi:
    """Answers SubjectAccessReviews from a set of allowed (user, subresource); records every review."""

    def __init__(self, allowed: set[tuple[str, str]], fail: bool = False) -> None:
        self.allowed, self.fail = allowed, fail
        self.reviews: list[az.SubjectAccessReview] = []

    async def create(self, obj: Any) -> Any:
        if self.fail:
            raise errors.Unavailable("connection refused")
        self.reviews.append(obj)
        answer = az.SubjectAccessReview()
        answer.CopyFrom(obj)
        attrs = obj.spec.resource_attributes
        answer.status.allowed = (obj.spec.user, attrs.subresource) in self.allowed
        return answer


def _authorizer(api: FakeApi) -> ApiAuthorizer:
    return ApiAuthorizer(WEBHOOK, "n1", WebhookAuthorizer(api, DecisionCache(300, 30)))


async def test_review_carries_kubernetes_attributes_and_is_cached() -> None:
    api = FakeApi({("alice", "proxy")})
    authz = _authorizer(api)
    await authz.authorize("alice", ("devs", "system:authenticated"), "POST", "/exec")
    await authz.authorize("alice", ("devs", "system:authenticated"), "POST", "/exec")
    assert len(api.reviews) == 1  # the second answer came from the cache
    spec = api.reviews[0].spec
    attrs = spec.resource_attributes
    assert (spec.user, list(spec.groups)) == ("alice", ["devs", "system:authenticated"])
    assert (attrs.verb, attrs.resource, attrs.subresource, attrs.name, attrs.group) == (
        "create", "nodes", "proxy", "n1", "",
    )  # fmt: skip


async def test_denied_in_kubernetes_words_and_cached() -> None:
    api = FakeApi(set())
    authz = _authorizer(api)
    for _ in range(2):
        with pytest.raises(errors.Forbidden) as info:
            await authz.authorize("system:kube-scheduler", (), "GET", "/containerLogs/default/p/c")
        assert str(info.value) == (
            "Forbidden (user=system:kube-scheduler, verb=get, resource=nodes, subresource=proxy)"
        )
    assert len(api.reviews) == 1


async def test_fine_grained_subresource_falls_back_to_proxy() -> None:
    api = FakeApi({("proxy-holder", "proxy"), ("pods-holder", "pods")})
    authz = _authorizer(api)
    await authz.authorize("pods-holder", (), "GET", "/pods")
    await authz.authorize("proxy-holder", (), "GET", "/pods")
    with pytest.raises(errors.Forbidden):
        await authz.authorize("pods-holder", (), "POST", "/exec")


async def test_apiserver_unreachable_fails_closed_and_is_not_cached() -> None:
    api = FakeApi({("alice", "proxy")}, fail=True)
    authz = _authorizer(api)
    with pytest.raises(errors.Unavailable, match=r"Authorization error \(user=alice, verb=create"):
        await authz.authorize("alice", (), "POST", "/exec")
    api.fail = False
    await authz.authorize("alice", (), "POST", "/exec")  # the failure was not remembered


async def test_always_allow_asks_nobody() -> None:
    class Context:
        def auth_context(self) -> dict[str, list[bytes]]:
            raise AssertionError("AlwaysAllow must not even look at the caller")

    await ApiAuthorizer(ALWAYS_ALLOW, "n1").check(Context(), "Exec")


def test_mode_is_validated() -> None:
    with pytest.raises(ValueError, match="--authorization-mode"):
        KubeletConfig(authorization_mode="RBAC").validate()
    with pytest.raises(ValueError, match="--authorization-mode"):
        ApiAuthorizer("Webhook", "n1")
    with pytest.raises(ValueError, match="authorization-webhook-cache-authorized-ttl"):
        KubeletConfig(authorization_webhook_cache_authorized_ttl="soon").validate()
