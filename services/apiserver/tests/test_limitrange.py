"""LimitRange: validation with Kubernetes' field paths, LimitRanger's rules as tables, and the plugin through
real creates on a real apiserver (etcd)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from apiserver_testlib import create, expect_error, pod, uniq
from skiff.api.core.v1 import namespace_pb2, quota_pb2
from skiff_apiserver.admission import limitrange_rules as rules
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry.strategies import strategy_for


def _item(kind: str = "Container", **maps: dict[str, str]) -> quota_pb2.LimitRangeItem:
    item = quota_pb2.LimitRangeItem(type=kind)
    for field, values in maps.items():
        for name, value in values.items():
            getattr(item, field)[name].value = value
    return item


def _lr(*items: quota_pb2.LimitRangeItem, name: str = "lr", namespace: str = "default") -> quota_pb2.LimitRange:
    lr = quota_pb2.LimitRange()
    lr.metadata.name, lr.metadata.namespace = name, namespace
    lr.spec.limits.extend(items)
    return lr


STRATEGY = strategy_for(kinds.lookup_resource("limitranges"))


def _errors(lr: quota_pb2.LimitRange) -> list[str]:
    STRATEGY.default(lr)
    return [str(e) for e in STRATEGY.validate(lr)]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (_item(default={"cpu": "3"}, max={"cpu": "2"}),
         'spec.limits[0].default[cpu]: Invalid value: "3": default value 3 is greater than max value 2'),
        (_item(min={"cpu": "2"}, max={"cpu": "1"}),
         'spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1'),
        (_item(default_request={"memory": "1Gi"}, default={"memory": "512Mi"}),
         'spec.limits[0].defaultRequest[memory]: Invalid value: "1Gi": default request value 1Gi is greater than '
         "default limit value 512Mi"),
        (_item(max_limit_request_ratio={"cpu": "500m"}),
         'spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: "500m": ratio must be greater than or equal to 1'),
        (_item(max={"cpu": "-1"}),
         'spec.limits[0].max[cpu]: Invalid value: "-1": must be greater than or equal to 0'),
        (_item(max={"gpu": "1"}),
         'spec.limits[0].max[gpu]: Invalid value: "gpu": must be a standard limit type or fully qualified'),
        (_item("Pod", default={"cpu": "1"}),
         "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"),
        (_item("Node"),
         'spec.limits[0].type: Unsupported value: "Node": supported values: "Pod", "Container", '
         '"PersistentVolumeClaim"'),
    ],
)  # fmt: skip
def test_validation_names_the_field(item: quota_pb2.LimitRangeItem, expected: str) -> None:
    assert expected in _errors(_lr(item))


def test_a_duplicate_type_is_refused() -> None:
    assert 'spec.limits[1].type: Duplicate value: "Container"' in _errors(_lr(_item(), _item()))


def test_container_defaults_follow_max_then_default_then_min() -> None:
    lr = _lr(_item(max={"cpu": "2"}, min={"memory": "64Mi"}))
    assert _errors(lr) == []
    item = lr.spec.limits[0]
    assert dict(item.default) == {"cpu": item.max["cpu"]}
    assert {k: v.value for k, v in item.default_request.items()} == {"cpu": "2", "memory": "64Mi"}


MEM_DEFAULTS = _lr(_item(default={"memory": "512Mi"}, default_request={"memory": "256Mi"}))


def _resources(p: Any, i: int = 0) -> tuple[dict[str, str], dict[str, str]]:
    r = p.spec.containers[i].resources
    return {k: v.value for k, v in r.requests.items()}, {k: v.value for k, v in r.limits.items()}


@pytest.mark.parametrize(
    ("requests", "limits", "expected"),
    [
        # the docs' three cases: nothing set; only a limit; only a request
        ({}, {}, ({"memory": "256Mi"}, {"memory": "512Mi"})),
        ({}, {"memory": "1Gi"}, ({"memory": "1Gi"}, {"memory": "1Gi"})),
        ({"memory": "128Mi"}, {}, ({"memory": "128Mi"}, {"memory": "512Mi"})),
    ],
)
def test_defaults(requests: dict[str, str], limits: dict[str, str], expected: Any) -> None:
    p = pod("p")
    for k, v in requests.items():
        p.spec.containers[0].resources.requests[k].value = v
    for k, v in limits.items():
        p.spec.containers[0].resources.limits[k].value = v
    rules.apply_defaults([MEM_DEFAULTS], p)
    assert _resources(p) == expected


def test_the_annotation_records_what_was_set() -> None:
    p = pod("p")
    p.spec.init_containers.add(name="init", image="busybox").resources.limits["memory"].value = "64Mi"
    cpu = _lr(_item(default={"cpu": "1", "memory": "512Mi"}, default_request={"cpu": "500m", "memory": "256Mi"}))
    rules.apply_defaults([cpu], p)
    assert p.metadata.annotations[rules.ANNOTATION] == (
        "LimitRanger plugin set: cpu, memory request for container main; cpu, memory limit for container main; "
        "cpu request for init container init; cpu limit for init container init"
    )


def _with(requests: dict[str, str], limits: dict[str, str], name: str = "main") -> Any:
    p = pod("p")
    c = p.spec.containers[0]
    c.name = name
    for k, v in requests.items():
        c.resources.requests[k].value = v
    for k, v in limits.items():
        c.resources.limits[k].value = v
    return p


@pytest.mark.parametrize(
    ("item", "requests", "limits", "expected"),
    [
        (_item(max={"cpu": "2"}), {"cpu": "1"}, {"cpu": "3"}, ["maximum cpu usage per Container is 2, but limit is 3"]),
        (_item(max={"cpu": "2"}), {"cpu": "1"}, {}, ["maximum cpu usage per Container is 2.  No limit is specified"]),
        (_item(min={"memory": "500Mi"}), {"memory": "100Mi"}, {"memory": "1Gi"},
         ["minimum memory usage per Container is 500Mi, but request is 100Mi"]),
        (_item(min={"cpu": "200m"}), {}, {}, ["minimum cpu usage per Container is 200m.  No request is specified"]),
        (_item(max_limit_request_ratio={"memory": "2"}), {"memory": "100Mi"}, {"memory": "300Mi"},
         ["memory max limit to request ratio per Container is 2, but provided ratio is 3.000000"]),
        (_item(max_limit_request_ratio={"memory": "2"}), {"memory": "100Mi"}, {"memory": "200Mi"}, []),
        (_item("Pod", max={"cpu": "2"}), {"cpu": "1"}, {"cpu": "2"}, []),
        (_item("Pod", max={"cpu": "1"}), {"cpu": "1"}, {"cpu": "1500m"},
         ["maximum cpu usage per Pod is 1, but limit is 1500m"]),
    ],
)  # fmt: skip
def test_bounds(
    item: quota_pb2.LimitRangeItem, requests: dict[str, str], limits: dict[str, str], expected: list[str]
) -> None:
    assert rules.violations([_lr(item)], _with(requests, limits)) == expected


def test_several_violations_aggregate_as_kubernetes_does() -> None:
    msgs = rules.violations([_lr(_item(max={"cpu": "1", "memory": "1Gi"}))], _with({}, {"cpu": "2", "memory": "2Gi"}))
    assert rules.aggregate(msgs) == (
        "[maximum cpu usage per Container is 1, but limit is 2, "
        "maximum memory usage per Container is 1Gi, but limit is 2Gi]"
    )


# -- through the apiserver ------------------------------------------------------------------------------


async def _namespace(api: Any) -> str:
    ns = namespace_pb2.Namespace()
    ns.metadata.name = uniq("lr")
    await create(api.stub, ns)
    return ns.metadata.name


async def test_a_pod_gets_the_namespace_defaults(api) -> None:  # type: ignore[no-untyped-def]
    ns = await _namespace(api)
    lr = _lr(_item(default={"memory": "512Mi"}, default_request={"memory": "256Mi"}), namespace=ns)
    await create(api.stub, lr)
    await _cache_has(api, "limitranges", ns)
    created = await create(api.stub, pod("default-mem-demo", ns))
    assert _resources(created) == ({"memory": "256Mi"}, {"memory": "512Mi"})
    assert created.metadata.annotations[rules.ANNOTATION] == (
        "LimitRanger plugin set: memory request for container main; memory limit for container main"
    )
    assert created.status.qos_class == "Burstable"
    other = await create(api.stub, pod(uniq("p")))  # another namespace: untouched
    assert _resources(other) == ({}, {})


async def test_a_pod_over_the_maximum_is_forbidden(api) -> None:  # type: ignore[no-untyped-def]
    ns = await _namespace(api)
    await create(api.stub, _lr(_item(max={"cpu": "2"}), namespace=ns))
    await _cache_has(api, "limitranges", ns)
    p = _with({"cpu": "1"}, {"cpu": "3"})
    p.metadata.name, p.metadata.namespace = "x", ns
    err = await expect_error(grpc.StatusCode.PERMISSION_DENIED, create(api.stub, p))
    assert err.message == 'pods "x" is forbidden: maximum cpu usage per Container is 2, but limit is 3'


async def test_an_invalid_limitrange_is_refused_with_the_field(api) -> None:  # type: ignore[no-untyped-def]
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, _lr(_item(default={"cpu": "3"}, max={"cpu": "2"})))
    )
    assert 'spec.limits[0].default[cpu]: Invalid value: "3": default value 3 is greater than max value 2' in str(err)


async def _cache_has(api: Any, resource: str, namespace: str) -> None:
    """Admission reads the watch cache: wait until it has seen the namespace's object."""
    import asyncio

    cache = api.app.caches[resource]
    for _ in range(200):
        if cache.list_objects(namespace, lambda _o: True):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the {resource} cache never saw {namespace}")
