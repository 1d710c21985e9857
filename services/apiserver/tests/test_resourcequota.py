"""ResourceQuota: validation with Kubernetes' field paths, and ResourceQuota admission through real creates on
a real apiserver (etcd): Kubernetes' refusals, usage charged to status.used, and concurrent creates that
cannot both squeeze under the limit. The resourcequota controller is not running here: tests write the
status it would (UpdateStatus), and its own tests live with the controllers."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from apiserver_testlib import create, expect_error, get, pack, pod, uniq
from skiff.api.core.v1 import config_pb2, namespace_pb2, quota_pb2, service_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry.strategies import strategy_for

STRATEGY = strategy_for(kinds.lookup_resource("resourcequotas"))


def _quota(hard: dict[str, str], *, name: str = "q", namespace: str = "default", scopes: tuple[str, ...] = ()) -> Any:
    q = quota_pb2.ResourceQuota()
    q.metadata.name, q.metadata.namespace = name, namespace
    for k, v in hard.items():
        q.spec.hard[k].value = v
    q.spec.scopes.extend(scopes)
    return q


@pytest.mark.parametrize(
    ("quota", "expected"),
    [
        (_quota({"pods": "1.5"}), 'spec.hard[pods]: Invalid value: "1.5": must be an integer'),
        (_quota({"widgets": "1"}),
         'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota'),
        (_quota({"requests.cpu": "-1"}),
         'spec.hard[requests.cpu]: Invalid value: "-1": must be greater than or equal to 0'),
        (_quota({"pods": "1"}, scopes=("Sometimes",)),
         'spec.scopes[0]: Unsupported value: "Sometimes": supported values: "Terminating", "NotTerminating"'),
        (_quota({"pods": "1"}, scopes=("Terminating", "NotTerminating")), "spec.scopes: Invalid value"),
        (_quota({"requests.cpu": "1"}, scopes=("BestEffort",)), "unsupported scope applied to resource"),
    ],
)  # fmt: skip
def test_validation_names_the_field(quota: Any, expected: str) -> None:
    assert any(expected in str(e) for e in STRATEGY.validate(quota)), STRATEGY.validate(quota)


def test_scope_selector_operators() -> None:
    q = _quota({"pods": "1"})
    q.spec.scope_selector.match_expressions.add(scope_name="PriorityClass", operator="In")
    q.spec.scope_selector.match_expressions.add(scope_name="BestEffort", operator="Exists", values=["x"])
    assert {e.path for e in STRATEGY.validate(q)} == {
        "spec.scopeSelector.matchExpressions[0].values",
        "spec.scopeSelector.matchExpressions[1].values",
    }


def test_count_of_any_resource_is_valid() -> None:
    assert STRATEGY.validate(_quota({"count/deployments.apps": "2", "count/widgets.example.com": "1"})) == []


# -- through the apiserver ------------------------------------------------------------------------------

MEM_CPU = {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "limits.memory": "2Gi"}


async def _namespace(api: Any) -> str:
    ns = namespace_pb2.Namespace()
    ns.metadata.name = uniq("quota")
    await create(api.stub, ns)
    return ns.metadata.name


async def _sync_status(api: Any, namespace: str, name: str, used: dict[str, str] | None = None) -> None:
    """What the resourcequota controller writes first: hard copied from spec, usage computed (here given)."""
    q = await get(api.stub, "resourcequotas", name, namespace)
    q.status.Clear()
    for k, v in q.spec.hard.items():
        q.status.hard[k].CopyFrom(v)
        q.status.used[k].value = (used or {}).get(k, "0")
    out = (await api.stub.UpdateStatus(pb.UpdateStatusRequest(object=pack(q)))).object
    rv = kinds.unpack(out).metadata.resource_version
    cache = api.app.caches["resourcequotas"]
    for _ in range(250):
        found = [o for o in cache.list_objects(namespace, lambda _o: True) if o.metadata.name == name]
        if found and int(found[0].metadata.resource_version) >= int(rv):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the resourcequotas cache never caught up")


def _demo_pod(name: str, ns: str, requests: dict[str, str], limits: dict[str, str]) -> Any:
    p = pod(name, ns)
    for k, v in requests.items():
        p.spec.containers[0].resources.requests[k].value = v
    for k, v in limits.items():
        p.spec.containers[0].resources.limits[k].value = v
    return p


async def test_the_docs_quota_charges_the_first_pod_and_refuses_the_second(api) -> None:  # type: ignore[no-untyped-def]
    ns = await _namespace(api)
    await create(api.stub, _quota(MEM_CPU, name="mem-cpu-demo", namespace=ns))
    first = _demo_pod("quota-mem-cpu-demo", ns, {"memory": "600Mi", "cpu": "400m"}, {"memory": "800Mi", "cpu": "800m"})
    await _sync_status(api, ns, "mem-cpu-demo")
    await create(api.stub, first)
    q = await get(api.stub, "resourcequotas", "mem-cpu-demo", ns)
    assert {k: v.value for k, v in q.status.used.items()} == {
        "limits.cpu": "800m",
        "limits.memory": "800Mi",
        "requests.cpu": "400m",
        "requests.memory": "600Mi",
    }
    await _sync_status(api, ns, "mem-cpu-demo", {k: v.value for k, v in q.status.used.items()})
    second = _demo_pod("quota-mem-cpu-demo-2", ns, {"memory": "700Mi", "cpu": "400m"}, {"memory": "1Gi", "cpu": "800m"})
    err = await expect_error(grpc.StatusCode.PERMISSION_DENIED, create(api.stub, second))
    assert err.message == (
        'pods "quota-mem-cpu-demo-2" is forbidden: exceeded quota: mem-cpu-demo, requested: requests.memory=700Mi, '
        "used: requests.memory=600Mi, limited: requests.memory=1Gi"
    )
    no_limits = _demo_pod("bare", ns, {"memory": "1Mi", "cpu": "1m"}, {})
    err = await expect_error(grpc.StatusCode.PERMISSION_DENIED, create(api.stub, no_limits))
    assert err.message == (
        'pods "bare" is forbidden: failed quota: mem-cpu-demo: must specify limits.cpu for: main; '
        "limits.memory for: main"
    )


async def test_concurrent_creates_cannot_both_take_the_last_slot(api) -> None:  # type: ignore[no-untyped-def]
    ns = await _namespace(api)
    await create(api.stub, _quota({"pods": "3"}, namespace=ns))
    await _sync_status(api, ns, "q")
    results = await asyncio.gather(*(create(api.stub, pod(f"p{i}", ns)) for i in range(10)), return_exceptions=True)
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(admitted) == 3 and len(refused) == 7
    assert all(r.code() == grpc.StatusCode.PERMISSION_DENIED and "exceeded quota: q" in r.details() for r in refused)
    q = await get(api.stub, "resourcequotas", "q", ns)
    assert q.status.used["pods"].value == "3"


async def test_object_counts_and_dry_runs(api) -> None:  # type: ignore[no-untyped-def]
    ns = await _namespace(api)
    await create(api.stub, _quota({"configmaps": "1", "count/secrets": "5"}, namespace=ns))
    await _sync_status(api, ns, "q")
    cm = config_pb2.ConfigMap()
    cm.metadata.name, cm.metadata.namespace = "a", ns
    await api.stub.Create(pb.CreateRequest(object=pack(cm), dry_run=True))  # checked, not charged
    assert (await get(api.stub, "resourcequotas", "q", ns)).status.used["configmaps"].value == "0"
    await create(api.stub, cm)
    q = await get(api.stub, "resourcequotas", "q", ns)
    assert {k: v.value for k, v in q.status.used.items()} == {"configmaps": "1", "count/secrets": "0"}
    await _sync_status(api, ns, "q", {"configmaps": "1"})
    cm.metadata.name = "b"
    err = await expect_error(grpc.StatusCode.PERMISSION_DENIED, create(api.stub, cm))
    assert err.message == (
        'configmaps "b" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=1, limited: '
        "configmaps=1"
    )
    await create(api.stub, pod(uniq("free"), ns))  # a pod is not tracked by this quota


async def test_a_status_write_cannot_be_made_through_update(api) -> None:  # type: ignore[no-untyped-def]
    ns = await _namespace(api)
    q = _quota({"pods": "1"}, namespace=ns)
    q.status.used["pods"].value = "7"
    created = await create(api.stub, q)
    assert not created.status.used  # status is cleared on create and kept on update, as Kubernetes does
    created.status.used["pods"].value = "7"
    out = kinds.unpack((await api.stub.Update(pb.UpdateRequest(object=pack(created)))).object)
    assert not out.status.used


async def test_status_not_yet_computed(api) -> None:  # type: ignore[no-untyped-def]
    """A quota the controller has not seen yet restricts nothing (Kubernetes matches quotas by status.hard);
    one whose hard changed before its usage was recomputed refuses rather than guess."""
    ns = await _namespace(api)
    await create(api.stub, _quota({"pods": "1"}, namespace=ns))
    await _sync_status(api, ns, "q")
    await create(api.stub, pod("a", ns))
    q = await get(api.stub, "resourcequotas", "q", ns)
    q.status.hard["services"].value = "1"  # as if spec.hard just gained services
    await api.stub.UpdateStatus(pb.UpdateStatusRequest(object=pack(q)))
    svc = service_pb2.Service()
    svc.metadata.name, svc.metadata.namespace = "s", ns
    svc.spec.ports.add(port=80)
    for _ in range(250):
        try:
            await create(api.stub, svc)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
            assert exc.details() == 'services "s" is forbidden: status unknown for quota: q, resources: services'
            return
        await api.stub.Delete(pb.DeleteRequest(resource="services", namespace=ns, name="s"))  # cache behind
        await asyncio.sleep(0.02)
    raise AssertionError("never refused")


async def test_two_apiservers_cannot_both_take_the_last_slot(server_factory) -> None:  # type: ignore[no-untyped-def]
    """Each apiserver charges its own creates one batch at a time; between apiservers the compare-and-swap
    on the quota decides, and the loser checks its creates again against what the winner stored."""
    a = await server_factory()
    b = await server_factory()  # a replica on the same etcd data
    ns = await _namespace(a)
    await create(a.stub, _quota({"pods": "4", "count/configmaps": "100"}, namespace=ns))
    await _sync_status(a, ns, "q")
    await _sync_status(b, ns, "q", {"pods": "0", "count/configmaps": "0"})
    results = await asyncio.gather(
        *(create((a if i % 2 else b).stub, pod(f"p{i}", ns)) for i in range(16)), return_exceptions=True
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(admitted) == 4 and len(refused) == 12, [r.details() for r in refused]
    assert all(r.code() == grpc.StatusCode.PERMISSION_DENIED for r in refused)
    q = await get(a.stub, "resourcequotas", "q", ns)
    assert {k: v.value for k, v in q.status.used.items()} == {"pods": "4", "count/configmaps": "0"}


async def test_events_are_never_held_to_a_quota(api) -> None:  # type: ignore[no-untyped-def]
    from skiff.api.core.v1 import event_pb2

    ns = await _namespace(api)
    await create(api.stub, _quota({"count/events": "0"}, namespace=ns))
    await _sync_status(api, ns, "q")
    ev = event_pb2.Event()
    ev.metadata.name, ev.metadata.namespace = "e", ns
    ev.involved_object.kind, ev.involved_object.name, ev.involved_object.namespace = "Pod", "p", ns
    ev.reason, ev.message, ev.type = "Test", "not counted", "Normal"
    await create(api.stub, ev)
    assert (await get(api.stub, "resourcequotas", "q", ns)).status.used["count/events"].value == "0"


async def test_a_generated_name_is_refused_by_its_prefix(api) -> None:  # type: ignore[no-untyped-def]
    """As in Kubernetes (a ReplicaSet's pods: `pods "web-7d9f-" is forbidden`), admission runs before the
    name is drawn."""
    ns = await _namespace(api)
    await create(api.stub, _quota({"pods": "0"}, namespace=ns))
    await _sync_status(api, ns, "q")
    p = pod("", ns)
    p.metadata.generate_name = "web-7d9f-"
    err = await expect_error(grpc.StatusCode.PERMISSION_DENIED, create(api.stub, p))
    assert (
        err.message
        == 'pods "web-7d9f-" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0'
    )


async def test_an_update_is_charged_what_it_adds(api) -> None:  # type: ignore[no-untyped-def]
    """A Service turned NodePort needs services.nodeports; an update that adds nothing is never refused."""
    ns = await _namespace(api)
    await create(api.stub, _quota({"services": "2", "services.nodeports": "1"}, namespace=ns))
    await _sync_status(api, ns, "q")
    svc = service_pb2.Service()
    svc.metadata.name, svc.metadata.namespace = "web", ns
    svc.spec.ports.add(port=80, name="http")
    created = await create(api.stub, svc)
    created.spec.ports.add(port=443, name="https")
    created.spec.type = "NodePort"  # two node ports, one allowed
    err = await expect_error(grpc.StatusCode.PERMISSION_DENIED, api.stub.Update(pb.UpdateRequest(object=pack(created))))
    assert err.message == (
        'services "web" is forbidden: exceeded quota: q, requested: services.nodeports=2, used: '
        "services.nodeports=0, limited: services.nodeports=1"
    )
    del created.spec.ports[1]
    await api.stub.Update(pb.UpdateRequest(object=pack(created)))
    q = await get(api.stub, "resourcequotas", "q", ns)
    assert {k: v.value for k, v in q.status.used.items()} == {"services": "1", "services.nodeports": "1"}
    got = await get(api.stub, "services", "web", ns)
    got.metadata.labels["tier"] = "front"  # adds nothing: admitted, nothing charged
    await api.stub.Update(pb.UpdateRequest(object=pack(got)))
    assert (await get(api.stub, "resourcequotas", "q", ns)).status.used["services.nodeports"].value == "1"
