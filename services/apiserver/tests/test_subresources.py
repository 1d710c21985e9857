"""Bind (pods/binding), scale (deployments, replicasets)."""

from __future__ import annotations

import grpc
from apiserver_testlib import create, expect_error, get, pod, uniq
from skiff.api.apps.v1 import apps_pb2
from skiff.api.autoscaling.v1 import scale_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb


def binding(name: str, node: str, namespace: str = "default") -> pod_pb2.Binding:
    b = pod_pb2.Binding()
    b.metadata.name = name
    b.metadata.namespace = namespace
    b.target.kind = "Node"
    b.target.name = node
    return b


async def test_bind_sets_node_once(api) -> None:
    p = await create(api.stub, pod(uniq("bind")))
    await api.stub.Bind(pb.BindRequest(binding=binding(p.metadata.name, "node-1")))
    got = await get(api.stub, "pods", p.metadata.name)
    assert got.spec.node_name == "node-1"
    assert any(c.type == "PodScheduled" and c.status == "True" for c in got.status.conditions)
    err = await expect_error(
        grpc.StatusCode.ABORTED, api.stub.Bind(pb.BindRequest(binding=binding(p.metadata.name, "node-2")))
    )
    assert "already assigned" in err.message
    await expect_error(grpc.StatusCode.NOT_FOUND, api.stub.Bind(pb.BindRequest(binding=binding("nope", "n"))))
    await expect_error(grpc.StatusCode.INVALID_ARGUMENT, api.stub.Bind(pb.BindRequest(binding=binding("x", ""))))


async def test_update_cannot_change_node_name(api) -> None:
    p = await create(api.stub, pod(uniq("nn")))
    p.spec.node_name = "sneaky"
    from apiserver_testlib import pack

    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, api.stub.Update(pb.UpdateRequest(object=pack(p))))
    assert "spec" in str(err)


def deployment(name: str, replicas: int | None = None) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name = name
    d.metadata.namespace = "default"
    if replicas is not None:
        d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    d.spec.template.spec.containers.add(name="c", image="nginx:1.25")
    return d


async def test_scale_subresource(api) -> None:
    d = await create(api.stub, deployment(uniq("dep")))
    assert d.spec.replicas == 1 and d.spec.strategy.type == "RollingUpdate"
    assert d.spec.strategy.rolling_update.max_surge.str_val == "25%"
    scale = (
        await api.stub.GetScale(pb.GetScaleRequest(resource="deployments", namespace="default", name=d.metadata.name))
    ).scale
    assert scale.spec.replicas == 1 and scale.status.selector == f"app={d.metadata.name}"
    scale.spec.replicas = 5
    out = (await api.stub.UpdateScale(pb.UpdateScaleRequest(resource="deployments", scale=scale))).scale
    assert out.spec.replicas == 5
    got = await get(api.stub, "deployments", d.metadata.name)
    assert got.spec.replicas == 5 and got.metadata.generation == 2
    # stale resourceVersion on the scale is a conflict
    await expect_error(
        grpc.StatusCode.ABORTED,
        api.stub.UpdateScale(pb.UpdateScaleRequest(resource="deployments", scale=scale)),
    )
    await expect_error(
        grpc.StatusCode.NOT_FOUND,
        api.stub.GetScale(pb.GetScaleRequest(resource="pods", namespace="default", name="x")),
    )
    bad = scale_pb2.Scale()
    bad.metadata.name = d.metadata.name
    bad.spec.replicas = -1
    await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        api.stub.UpdateScale(pb.UpdateScaleRequest(resource="deployments", scale=bad)),
    )


async def test_deployment_selector_is_immutable(api) -> None:
    from apiserver_testlib import pack

    d = await create(api.stub, deployment(uniq("imm")))
    d.spec.selector.match_labels["app"] = "other"
    d.spec.template.metadata.labels["app"] = "other"
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, api.stub.Update(pb.UpdateRequest(object=pack(d))))
    assert any(e.path == "spec.selector" and "immutable" in e.detail for e in err.errors)
