"""The downward API: fieldRef values for env and volumes, resourceFieldRef with divisor and defaults."""

from __future__ import annotations

import pytest
from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_kubelet.downward import ConfigError, field_ref, format_map, resource_field_ref

ALLOCATABLE = {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "10Gi"}


def pod() -> pod_pb2.Pod:
    p = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="kubernetes-downwardapi-volume-example", namespace="ns"))
    p.metadata.uid = "u-1"
    p.metadata.labels.update({"zone": "us-est-coast", "cluster": "test-cluster1", "rack": "rack-22"})
    p.metadata.annotations.update({"build": "two", "builder": 'john-"doe"'})
    p.spec.node_name, p.status.pod_ip = "n1", "10.88.0.5"
    c = p.spec.containers.add(name="client-container")
    for kind, values in (
        ("requests", {"cpu": "250m", "memory": "32Mi"}),
        ("limits", {"cpu": "500m", "memory": "64Mi"}),
    ):
        for k, v in values.items():
            getattr(c.resources, kind)[k].value = v
    p.spec.containers.add(name="no-limits")
    return p


def sel(resource: str, divisor: str = "", container: str = "client-container") -> container_pb2.ResourceFieldSelector:
    s = container_pb2.ResourceFieldSelector(container_name=container, resource=resource)
    if divisor:
        s.divisor.value = divisor
    return s


@pytest.mark.parametrize(
    ("resource", "divisor", "container", "want"),
    [
        ("limits.cpu", "", "client-container", "1"),  # 500m rounded up to whole cpus
        ("limits.cpu", "1m", "client-container", "500"),
        ("requests.cpu", "1m", "client-container", "250"),
        ("limits.memory", "1Mi", "client-container", "64"),
        ("requests.memory", "", "client-container", str(32 * 2**20)),
        ("requests.memory", "1Mi", "client-container", "32"),
        ("limits.memory", "1Gi", "client-container", "1"),  # 64Mi / 1Gi rounds up
        ("limits.cpu", "1m", "no-limits", "2000"),  # no limit: the node's allocatable
        ("limits.memory", "1Mi", "no-limits", "4096"),
        ("limits.ephemeral-storage", "1Gi", "no-limits", "10"),
        ("requests.cpu", "", "no-limits", "0"),  # requests are not defaulted
        ("requests.ephemeral-storage", "", "no-limits", "0"),
    ],
)
def test_resource_field_ref(resource: str, divisor: str, container: str, want: str) -> None:
    assert resource_field_ref(pod(), None, sel(resource, divisor, container), ALLOCATABLE) == want


def test_env_defaults_to_its_own_container_and_volumes_need_a_name() -> None:
    p = pod()
    assert resource_field_ref(p, p.spec.containers[0], sel("limits.cpu", "1m", ""), ALLOCATABLE) == "500"
    with pytest.raises(ConfigError, match="containerName is required"):
        resource_field_ref(p, None, sel("limits.cpu", "", ""), ALLOCATABLE)
    with pytest.raises(ConfigError, match="no container named 'ghost'"):
        resource_field_ref(p, None, sel("limits.cpu", "", "ghost"), ALLOCATABLE)
    with pytest.raises(ConfigError, match=r"unsupported resource 'limits\.gpu'"):
        resource_field_ref(p, None, sel("limits.gpu"), ALLOCATABLE)


def test_volume_field_refs() -> None:
    p = pod()
    assert (
        field_ref(p, "metadata.labels", volume=True) == 'cluster="test-cluster1"\nrack="rack-22"\nzone="us-est-coast"'
    )
    assert field_ref(p, "metadata.annotations", volume=True) == 'build="two"\nbuilder="john-\\"doe\\""'
    assert field_ref(p, "metadata.labels['zone']", volume=True) == "us-est-coast"
    assert field_ref(p, "metadata.uid", volume=True) == "u-1"
    assert field_ref(p, "metadata.namespace", volume=True) == "ns"
    for env_only in ("status.podIP", "spec.nodeName"):
        with pytest.raises(ConfigError, match=r"unsupported fieldPath .* in a downwardAPI volume"):
            field_ref(p, env_only, volume=True)
        assert field_ref(p, env_only) in ("10.88.0.5", "n1")
    with pytest.raises(ConfigError, match=r"unsupported fieldPath 'metadata\.labels'"):
        field_ref(p, "metadata.labels")  # whole maps are volume-only


def test_format_map_is_sorted_and_empty_is_empty() -> None:
    assert format_map({}) == ""
    assert format_map({"b": "1", "a": "x y"}) == 'a="x y"\nb="1"'
