"""The files volumes write (secret/configMap items, downwardAPI volumes, projected sources): Kubernetes' rules,
each error naming its field."""

from __future__ import annotations

import pytest
from skiff.api.core.v1 import pod_pb2, volume_pb2
from skiff_apiserver.registry.strategies.podspec import validate_pod_spec

P = "spec.volumes[0].downwardAPI.items[0]"


def spec_with(item: volume_pb2.DownwardAPIVolumeFile, default_mode: int | None = None) -> pod_pb2.PodSpec:
    s = pod_pb2.PodSpec()
    s.containers.add(name="client-container", image="busybox:1.36").volume_mounts.add(
        name="podinfo", mount_path="/etc/podinfo"
    )
    vol = s.volumes.add(name="podinfo").downward_api
    vol.items.append(item)
    if default_mode is not None:
        vol.default_mode = default_mode
    return s


def field(path: str, field_path: str) -> volume_pb2.DownwardAPIVolumeFile:
    item = volume_pb2.DownwardAPIVolumeFile(path=path)
    item.field_ref.field_path = field_path
    return item


def resource(path: str, container: str, res: str, divisor: str = "") -> volume_pb2.DownwardAPIVolumeFile:
    item = volume_pb2.DownwardAPIVolumeFile(path=path)
    item.resource_field_ref.container_name, item.resource_field_ref.resource = container, res
    if divisor:
        item.resource_field_ref.divisor.value = divisor
    return item


@pytest.mark.parametrize(
    ("item", "errors"),
    [
        (field("labels", "metadata.labels"), []),
        (field("zone", "metadata.labels['zone']"), []),
        (field("uid", "metadata.uid"), []),
        (resource("cpu_limit", "client-container", "limits.cpu", "1m"), []),
        (resource("mem_request", "client-container", "requests.memory", "1Mi"), []),
        (field("ip", "status.podIP"), [(f"{P}.fieldRef.fieldPath", "Unsupported value")]),
        (field("/abs", "metadata.name"), [(f"{P}.path", "Invalid value")]),
        (field("a/../b", "metadata.name"), [(f"{P}.path", "Invalid value")]),
        (field("..data", "metadata.name"), [(f"{P}.path", "Invalid value")]),
        (field("", "metadata.name"), [(f"{P}.path", "Required value")]),
        (volume_pb2.DownwardAPIVolumeFile(path="x"), [(P, "Required value")]),
        (resource("cpu", "", "limits.cpu"), [(f"{P}.resourceFieldRef.containerName", "Required value")]),
        (resource("gpu", "c", "limits.gpu"), [(f"{P}.resourceFieldRef.resource", "Unsupported value")]),
        (resource("cpu", "c", "limits.cpu", "1Mi"), [(f"{P}.resourceFieldRef.divisor", "Invalid value")]),
        (resource("mem", "c", "limits.memory", "1m"), [(f"{P}.resourceFieldRef.divisor", "Invalid value")]),
    ],
)
def test_downward_api_volume_items(item: volume_pb2.DownwardAPIVolumeFile, errors: list[tuple[str, str]]) -> None:
    assert [(e.path, e.reason) for e in validate_pod_spec(spec_with(item), "spec")] == errors


def test_both_refs_and_bad_modes() -> None:
    item = resource("x", "client-container", "limits.cpu")
    item.field_ref.field_path, item.mode = "metadata.name", 0o1000
    errs = validate_pod_spec(spec_with(item, default_mode=-1), "spec")
    assert [(e.path, e.reason) for e in errs] == [
        ("spec.volumes[0].downwardAPI.defaultMode", "Invalid value"),
        (P, "Invalid value"),
        (f"{P}.mode", "Invalid value"),
    ]
    assert "can not be specified simultaneously" in errs[1].detail


def test_projected_downward_api_takes_resource_field_refs() -> None:
    s = pod_pb2.PodSpec()
    s.containers.add(name="c", image="busybox:1.36")
    proj = s.volumes.add(name="all-in-one").projected
    proj.sources.add().downward_api.items.append(resource("cpu_limit", "c", "limits.cpu"))
    proj.sources.add().downward_api.items.append(field("ip", "status.podIP"))
    errs = validate_pod_spec(s, "spec")
    assert [(e.path, e.reason) for e in errs] == [
        ("spec.volumes[0].projected.sources[1].downwardAPI.items[0].fieldRef.fieldPath", "Unsupported value")
    ]


def test_secret_and_config_map_items() -> None:
    s = pod_pb2.PodSpec()
    s.containers.add(name="c", image="busybox:1.36")
    sec = s.volumes.add(name="secret-volume").secret
    sec.secret_name, sec.default_mode = "test-secret", 0o400
    sec.items.add(key="username", path="my-group/my-username", mode=0o777)
    sec.items.add(key="", path="../up")
    cm = s.volumes.add(name="config-volume").config_map
    cm.name, cm.default_mode = "sport", 0o1000
    cm.items.add(key="sport", path="")
    proj = s.volumes.add(name="all-in-one").projected
    proj.sources.add().config_map.items.add(key="k", path="/abs")
    errs = [(e.path, e.reason) for e in validate_pod_spec(s, "spec")]
    assert errs == [
        ("spec.volumes[0].secret.items[1].key", "Required value"),
        ("spec.volumes[0].secret.items[1].path", "Invalid value"),
        ("spec.volumes[1].configMap.defaultMode", "Invalid value"),
        ("spec.volumes[1].configMap.items[0].path", "Required value"),
        ("spec.volumes[2].projected.sources[0].configMap.items[0].path", "Invalid value"),
    ]
