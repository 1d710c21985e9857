"""Rolling-update parameters of Deployments and DaemonSets over the wire: Kubernetes refuses a rollout
that may neither surge nor go unavailable, a malformed percent, and maxUnavailable over 100%, each with
the field path and reason kubectl users know."""

from __future__ import annotations

import grpc
import pytest
from apiserver_testlib import create, expect_error, uniq
from skiff.api.apps.v1 import apps_pb2

ROLLING = "spec.strategy.rollingUpdate"


def _set(field, value) -> None:  # type: ignore[no-untyped-def]
    if isinstance(value, str):
        field.str_val = value
    else:
        field.int_val = value


def deployment(
    surge: int | str | None, unavailable: int | str | None, kind: str = "RollingUpdate"
) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name = uniq("dep")
    d.spec.selector.match_labels["app"] = "a"
    d.spec.template.metadata.labels["app"] = "a"
    d.spec.template.spec.containers.add(name="c", image="busybox")
    d.spec.strategy.type = kind
    ru = d.spec.strategy.rolling_update
    if surge is not None:
        _set(ru.max_surge, surge)
    if unavailable is not None:
        _set(ru.max_unavailable, unavailable)
    return d


@pytest.mark.parametrize(
    ("surge", "unavailable", "errors"),
    [
        (0, 0, [(f"{ROLLING}.maxUnavailable", "Invalid value", "may not be 0 when `maxSurge` is 0")]),
        ("0%", "0%", [(f"{ROLLING}.maxUnavailable", "Invalid value", "may not be 0 when `maxSurge` is 0")]),
        (0, "0%", [(f"{ROLLING}.maxUnavailable", "Invalid value", "may not be 0 when `maxSurge` is 0")]),
        ("x%", 1, [(f"{ROLLING}.maxSurge", "Invalid value", "a valid percent string")]),
        (-1, 1, [(f"{ROLLING}.maxSurge", "Invalid value", "must be greater than or equal to 0")]),
        (1, "101%", [(f"{ROLLING}.maxUnavailable", "Invalid value", "must not be greater than 100%")]),
        (1, 0, []),
        (0, 1, []),
        ("25%", "25%", []),
        (None, None, []),  # defaults: 25% / 25%
    ],
)
async def test_deployment_rolling_update_parameters(api, surge, unavailable, errors) -> None:  # type: ignore[no-untyped-def]
    d = deployment(surge, unavailable)
    if not errors:
        out = await create(api.stub, d)
        assert out.spec.strategy.rolling_update.HasField("max_surge")
        return
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, d))
    got = [(e.path, e.reason) for e in err.errors]
    assert got == [(path, reason) for path, reason, _ in errors]
    for e, (_p, _r, detail) in zip(err.errors, errors, strict=True):
        assert detail in e.detail


async def test_recreate_refuses_rolling_update_parameters(api) -> None:  # type: ignore[no-untyped-def]
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, deployment(1, 1, "Recreate")))
    assert [(e.path, e.reason) for e in err.errors] == [(ROLLING, "Forbidden")]
    d = deployment(None, None, "Recreate")
    d.spec.strategy.ClearField("rolling_update")
    out = await create(api.stub, d)
    assert out.spec.strategy.type == "Recreate"


async def test_daemonset_may_not_have_both_zero(api) -> None:  # type: ignore[no-untyped-def]
    ds = apps_pb2.DaemonSet()
    ds.metadata.name = uniq("ds")
    ds.spec.selector.match_labels["app"] = "a"
    ds.spec.template.metadata.labels["app"] = "a"
    ds.spec.template.spec.containers.add(name="c", image="busybox")
    ds.spec.update_strategy.type = "RollingUpdate"
    ds.spec.update_strategy.rolling_update.max_unavailable.int_val = 0
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, ds))
    assert [(e.path, e.reason) for e in err.errors] == [
        ("spec.updateStrategy.rollingUpdate.maxUnavailable", "Invalid value")
    ]
    ds.spec.update_strategy.rolling_update.max_surge.int_val = 1
    out = await create(api.stub, ds)
    assert out.spec.update_strategy.rolling_update.max_surge.int_val == 1


async def test_controller_revision_needs_data_keeps_it_and_may_be_renumbered(api) -> None:  # type: ignore[no-untyped-def]
    from apiserver_testlib import pack, unpack
    from skiff.api.apps.v1.controllerrevision_pb2 import ControllerRevision
    from skiff.apiserver.v1 import apiserver_pb2 as pb

    rev = ControllerRevision()
    rev.metadata.name = uniq("rev")
    rev.metadata.namespace = "default"
    rev.revision = -1
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, rev))
    assert sorted((e.path, e.reason) for e in err.errors) == [("data", "Required value"), ("revision", "Invalid value")]
    rev.revision = 1
    rev.data.update({"spec": {"template": {"$patch": "replace", "spec": {"containers": [{"name": "c"}]}}}})
    out = await create(api.stub, rev)
    assert out.data == rev.data
    out.revision = 3  # a rollback renumbers
    out = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(out)))).object)
    assert out.revision == 3
    out.data.update({"spec": {}})
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, api.stub.Update(pb.UpdateRequest(object=pack(out))))
    assert [(e.path, e.detail) for e in err.errors] == [("data", "field is immutable")]
