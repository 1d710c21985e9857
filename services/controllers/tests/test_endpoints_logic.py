"""Pure rules of the Endpoints and EndpointSlice controllers, table-tested without an apiserver."""

from __future__ import annotations

from typing import Any

import pytest
from skiff.api.core.v1 import pod_pb2, service_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff_controllers.endpoints import desired as ep_desired
from skiff_controllers.endpoints import pods as podutil
from skiff_controllers.endpointslice import desired as sl


def service(name: str = "web", *, target: int | str = 8080, publish: bool = False, ports: int = 1) -> Any:
    s = service_pb2.Service()
    s.metadata.name, s.metadata.namespace, s.metadata.uid = name, "default", "svc-uid"
    s.metadata.labels["team"] = "a"
    s.spec.selector["app"] = name
    s.spec.cluster_ip = "10.96.0.10"
    s.spec.publish_not_ready_addresses = publish
    for i in range(ports):
        p = s.spec.ports.add(name=f"p{i}" if ports > 1 else "", port=80 + i, protocol="TCP")
        if isinstance(target, int):
            p.target_port.int_val = target + i
        else:
            p.target_port.str_val = target
    return s


def pod(
    name: str,
    ip: str = "10.244.0.2",
    *,
    ready: bool = True,
    app: str = "web",
    deleting: bool = False,
    phase: str = "Running",
    named: dict[str, int] | None = None,
) -> Any:
    p = pod_pb2.Pod()
    p.metadata.name, p.metadata.namespace, p.metadata.uid = name, "default", f"uid-{name}"
    p.metadata.labels["app"] = app
    p.spec.node_name = "node-1"
    c = p.spec.containers.add(name="c", image="busybox")
    for port_name, number in (named or {}).items():
        c.ports.add(name=port_name, container_port=number, protocol="TCP")
    p.status.phase = phase
    p.status.pod_ip = ip
    p.status.conditions.add(type="Ready", status="True" if ready else "False")
    if deleting:
        p.metadata.deletion_timestamp.seconds = 1
    return p


@pytest.mark.parametrize(
    ("p", "include_terminating", "expected"),
    [
        (pod("a"), False, True),
        (pod("a", ip=""), False, False),
        (pod("a", phase="Succeeded"), False, False),
        (pod("a", phase="Failed"), True, False),
        (pod("a", deleting=True), False, False),
        (pod("a", deleting=True), True, True),
    ],
)
def test_should_include(p: Any, include_terminating: bool, expected: bool) -> None:
    assert podutil.should_include(p, include_terminating=include_terminating) is expected


@pytest.mark.parametrize(
    ("target", "named", "expected"),
    [(8080, None, 8080), ("http", {"http": 9376}, 9376), ("http", {"metrics": 9100}, None)],
)
def test_named_target_ports_resolve_per_pod(target: int | str, named: Any, expected: int | None) -> None:
    assert podutil.resolve_port(pod("a", named=named), service(target=target).spec.ports[0]) == expected


def test_endpoints_split_ready_and_not_ready_and_skip_terminating() -> None:
    pods = [pod("a", "10.244.0.3"), pod("b", "10.244.0.2", ready=False), pod("c", deleting=True), pod("x", app="db")]
    got = ep_desired.desired_endpoints(service(), pods)
    assert [a.ip for a in got.subsets[0].addresses] == ["10.244.0.3"]
    assert [a.ip for a in got.subsets[0].not_ready_addresses] == ["10.244.0.2"]
    assert got.subsets[0].ports[0].port == 8080 and got.subsets[0].addresses[0].target_ref.name == "a"
    assert got.metadata.labels["team"] == "a"
    published = ep_desired.desired_endpoints(service(publish=True), pods)
    assert [a.ip for a in published.subsets[0].addresses] == ["10.244.0.2", "10.244.0.3"]


def test_endpoints_group_pods_by_resolved_ports_and_compare_stably() -> None:
    pods = [pod("a", "10.244.0.2", named={"http": 80}), pod("b", "10.244.0.3", named={"http": 8080})]
    got = ep_desired.desired_endpoints(service(target="http"), pods)
    assert sorted(s.ports[0].port for s in got.subsets) == [80, 8080]
    again = ep_desired.desired_endpoints(service(target="http"), list(reversed(pods)))
    assert not ep_desired.needs_write(again, got)
    assert ep_desired.needs_write(None, got)


def _slices(plan: sl.Plan) -> list[es.EndpointSlice]:
    return plan.create + plan.update


def _store(plan: sl.Plan, existing: list[es.EndpointSlice] = ()) -> list[es.EndpointSlice]:
    """Apply a plan the way the apiserver would: names for creates, replacements for updates."""
    by_name = {s.metadata.name: s for s in existing if s.metadata.name not in plan.delete}
    for i, s in enumerate(plan.create):
        made = es.EndpointSlice()
        made.CopyFrom(s)
        made.metadata.name = f"{s.metadata.generate_name}{len(by_name) + i:05d}"
        by_name[made.metadata.name] = made
    for s in plan.update:
        by_name[s.metadata.name] = s
    return list(by_name.values())


def test_slice_conditions_labels_owner_and_ports() -> None:
    pods = [pod("a", "10.244.0.3"), pod("b", "10.244.0.2", ready=False), pod("c", "10.244.0.4", deleting=True)]
    plan = sl.plan(service(), pods, [])
    [made] = plan.create
    assert made.metadata.generate_name == "web-" and made.address_type == "IPv4"
    assert made.metadata.labels[sl.SERVICE_NAME_LABEL] == "web"
    assert made.metadata.labels[sl.MANAGED_BY_LABEL] == "endpointslice-controller.k8s.io"
    ref = made.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.uid, ref.controller) == ("Service", "web", "svc-uid", True)
    conds = {
        e.target_ref.name: (e.conditions.ready, e.conditions.serving, e.conditions.terminating) for e in made.endpoints
    }
    assert conds == {"a": (True, True, False), "b": (False, False, False), "c": (False, True, True)}
    assert [(p.name, p.protocol, p.port) for p in made.ports] == [("", "TCP", 8080)]


def test_unchanged_slices_are_not_written_and_changes_update_in_place() -> None:
    pods = [pod(f"p{i}", f"10.244.0.{i + 2}") for i in range(3)]
    stored = _store(sl.plan(service(), pods, []))
    assert sl.plan(service(), pods, stored).empty()
    pods[1] = pod("p1", "10.244.0.3", ready=False)
    again = sl.plan(service(), pods, stored)
    assert not again.create and not again.delete and len(again.update) == 1
    assert again.update[0].metadata.name == stored[0].metadata.name


def test_slices_are_capped_at_100_and_endpoints_stay_put() -> None:
    pods = [pod(f"p{i:03d}", f"10.244.{i // 250}.{i % 250 + 2}") for i in range(250)]
    first = sl.plan(service(), pods, [])
    assert [len(s.endpoints) for s in first.create] == [100, 100, 50]
    stored = _store(first)
    # one pod goes away: only its slice changes; a new pod fills the slice with room
    pods = [*pods[1:], pod("zzz", "10.244.9.9")]
    second = sl.plan(service(), pods, stored)
    assert not second.create and not second.delete
    assert all(len(s.endpoints) <= sl.MAX_ENDPOINTS_PER_SLICE for s in _slices(second))
    assert sum(len(s.endpoints) for s in _store(second, stored)) == 250


def test_no_endpoints_keeps_one_placeholder_and_port_groups_get_own_slices() -> None:
    plan = sl.plan(service(), [], [])
    assert len(plan.create) == 1 and not plan.create[0].endpoints and not plan.create[0].ports
    stored = _store(plan)
    assert sl.plan(service(), [], stored).empty()
    pods = [pod("a", "10.244.0.2", named={"http": 80}), pod("b", "10.244.0.3", named={"http": 8080})]
    grouped = sl.plan(service(target="http"), pods, stored)
    assert sorted(s.ports[0].port for s in _slices(grouped)) == [80, 8080]
    assert sorted(len(s.endpoints) for s in _slices(grouped)) == [1, 1]


def test_mirrored_slices_from_hand_made_endpoints() -> None:
    from skiff_controllers.endpointslicemirroring import mirror

    svc = service("ext")
    svc.spec.selector.clear()
    ep = service_pb2.Endpoints()
    ep.metadata.name, ep.metadata.namespace, ep.metadata.uid = "ext", "default", "ep-uid"
    sub = ep.subsets.add()
    sub.addresses.add(ip="192.0.2.10")
    sub.not_ready_addresses.add(ip="192.0.2.11")
    sub.addresses.add(ip="2001:db8::1")  # not mirrored into IPv4 slices
    sub.ports.add(name="http", port=9000, protocol="TCP")
    assert mirror.should_mirror(svc, ep) and not mirror.should_mirror(service("web"), ep)
    plan = sl.plan_slices(svc, mirror.wanted_endpoints(ep), [], mirror.slice_meta(ep), placeholder=False)
    [made] = plan.create
    assert {e.addresses[0]: e.conditions.ready for e in made.endpoints} == {"192.0.2.10": True, "192.0.2.11": False}
    assert made.metadata.labels[sl.MANAGED_BY_LABEL] == "endpointslicemirroring-controller.k8s.io"
    assert (
        made.metadata.labels[sl.SERVICE_NAME_LABEL] == "ext" and made.metadata.owner_references[0].kind == "Endpoints"
    )
    assert [(p.name, p.port) for p in made.ports] == [("http", 9000)]
    ep.metadata.labels[mirror.SKIP_MIRROR_LABEL] = "true"
    assert not mirror.should_mirror(svc, ep)
    assert sl.plan_slices(svc, {}, _store(plan), mirror.slice_meta(ep), placeholder=False).delete
