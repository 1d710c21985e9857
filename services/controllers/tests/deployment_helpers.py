"""Deployment and ReplicaSet builders for the pure Deployment tests."""

from __future__ import annotations

from skiff.api.apps.v1 import apps_pb2
from skiff_common.apimachinery.intstr import int_or_string
from skiff_controllers.deployment.util import DESIRED_REPLICAS


def deployment(
    replicas: int = 10, surge: int | str = "25%", unavailable: int | str = "25%", strategy: str = "RollingUpdate"
) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment(api_version="apps/v1", kind="Deployment")
    d.metadata.name, d.metadata.namespace, d.metadata.uid = "web", "default", "d-uid"
    d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = "web"
    d.spec.template.metadata.labels["app"] = "web"
    d.spec.template.spec.containers.add(name="c", image="busybox")
    d.spec.strategy.type = strategy
    if strategy == "RollingUpdate":
        d.spec.strategy.rolling_update.max_surge.CopyFrom(int_or_string(surge))
        d.spec.strategy.rolling_update.max_unavailable.CopyFrom(int_or_string(unavailable))
    return d


def rs(name: str, spec: int, available: int | None = None, created: int = 0, desired: int | None = None):  # type: ignore[no-untyped-def]
    r = apps_pb2.ReplicaSet()
    r.metadata.name = name
    r.metadata.uid = f"uid-{name}"
    r.metadata.creation_timestamp.seconds = created
    r.spec.replicas = spec
    avail = spec if available is None else available
    r.status.replicas = max(spec, avail)
    r.status.available_replicas = avail
    r.status.ready_replicas = avail
    if desired is not None:
        r.metadata.annotations[DESIRED_REPLICAS] = str(desired)
    return r
