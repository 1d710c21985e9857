"""Validation: every field error with its path and reason, over the wire (google.rpc.BadRequest)."""

from __future__ import annotations

import grpc
import pytest
from apiserver_testlib import create, expect_error, pod, uniq
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2, service_pb2


async def test_pod_errors_list_every_field(api) -> None:
    p = pod_pb2.Pod()
    p.metadata.name = "Bad_Name"
    p.metadata.labels["ok"] = "bad value!"
    c = p.spec.containers.add()
    c.name = "main"
    c.ports.add(container_port=70000)
    c.resources.requests["cpu"].value = "lots"
    p.spec.restart_policy = "Sometimes"
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, p))
    paths = {(e.path, e.reason) for e in err.errors}
    assert ("metadata.name", "Invalid value") in paths
    assert ("metadata.labels[ok]", "Invalid value") in paths or any(e[0].startswith("metadata.labels") for e in paths)
    assert ("spec.containers[0].image", "Required value") in paths
    assert ("spec.containers[0].ports[0].containerPort", "Invalid value") in paths
    assert ("spec.containers[0].resources.requests[cpu]", "Invalid value") in paths
    assert ("spec.restartPolicy", "Unsupported value") in paths
    assert 'Pod "Bad_Name" is invalid' in err.message
    assert "spec.containers[0].image: Required value" in err.message


async def test_pod_without_containers(api) -> None:
    p = pod_pb2.Pod()
    p.metadata.name = uniq("empty")
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, p))
    assert [str(e) for e in err.errors] == ["spec.containers: Required value"]


async def test_missing_name(api) -> None:
    p = pod("")
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, p))
    assert err.errors[0].path == "metadata.name" and err.errors[0].reason == "Required value"


async def test_deployment_selector_must_match_template(api) -> None:
    d = apps_pb2.Deployment()
    d.metadata.name = uniq("dep")
    d.spec.selector.match_labels["app"] = "a"
    d.spec.template.metadata.labels["app"] = "b"
    d.spec.template.spec.containers.add(name="c", image="x")
    d.spec.replicas = -1
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, d))
    paths = {e.path for e in err.errors}
    assert {"spec.template.metadata.labels", "spec.replicas"} <= paths


@pytest.mark.parametrize(("port", "ok"), [(80, True), (0, False), (65536, False)])
async def test_service_ports(api, port, ok) -> None:
    s = service_pb2.Service()
    s.metadata.name = uniq("svc")
    s.spec.ports.add(port=port)
    if ok:
        out = await create(api.stub, s)
        assert out.spec.type == "ClusterIP" and out.spec.ports[0].target_port.int_val == port
    else:
        err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, s))
        assert err.errors[0].path == "spec.ports[0].port"
