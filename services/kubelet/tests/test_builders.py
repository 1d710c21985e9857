"""Pure builders: sandbox config, container config, pull policy, back-off."""

from __future__ import annotations

import pytest
from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_kubelet import labels as L
from skiff_kubelet.container import build_container_config, linux_resources, mounts
from skiff_kubelet.env import ConfigError
from skiff_kubelet.images import pull_policy
from skiff_kubelet.killing import grace_seconds
from skiff_kubelet.plan import crash_backoff
from skiff_kubelet.sandbox import build_sandbox_config


def make_pod(**spec_kw: object) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(
        metadata=meta_pb2.ObjectMeta(
            name="web", namespace="ns", uid="u-1", labels={"app": "web"}, annotations={"a": "b"}
        )
    )
    c = container_pb2.Container(name="c", image="busybox:1.36", command=["sh"], args=["-c", "sleep 1"])
    c.ports.add(container_port=80, host_port=8080, protocol="TCP")
    c.ports.add(container_port=81)
    pod.spec.containers.append(c)
    for k, v in spec_kw.items():
        setattr(pod.spec, k, v)
    return pod


def test_sandbox_config_basics() -> None:
    cfg = build_sandbox_config(make_pod(), pod_log_dir="/var/log/x", attempt=2)
    assert (cfg.metadata.name, cfg.metadata.namespace, cfg.metadata.uid, cfg.metadata.attempt) == (
        "web",
        "ns",
        "u-1",
        2,
    )
    assert cfg.hostname == "web"
    assert cfg.log_directory == "/var/log/x/ns_web_u-1"
    assert [(p.container_port, p.host_port, p.protocol) for p in cfg.port_mappings] == [(80, 8080, cri.TCP)]
    assert cfg.labels[L.POD_UID] == "u-1" and cfg.labels["app"] == "web"
    assert cfg.annotations == {"a": "b"}
    assert cfg.linux.security_context.namespace_options.network == cri.POD


def test_sandbox_host_network_is_node_namespace() -> None:
    cfg = build_sandbox_config(make_pod(host_network=True), pod_log_dir="/l")
    assert cfg.linux.security_context.namespace_options.network == cri.NODE


def resources(limits: dict[str, str], requests: dict[str, str]) -> container_pb2.Container:
    c = container_pb2.Container(name="c")
    for k, v in limits.items():
        c.resources.limits[k].value = v
    for k, v in requests.items():
        c.resources.requests[k].value = v
    return c


@pytest.mark.parametrize(
    ("limits", "requests", "shares", "quota", "period", "mem"),
    [
        ({}, {}, 2, 0, 0, 0),
        ({}, {"cpu": "250m"}, 256, 0, 0, 0),
        ({"cpu": "500m", "memory": "64Mi"}, {}, 512, 50_000, 100_000, 64 * 1024**2),
        ({"cpu": "2"}, {"cpu": "1"}, 1024, 200_000, 100_000, 0),
        ({}, {"cpu": "1m"}, 2, 0, 0, 0),
    ],
)
def test_linux_resources(limits: dict, requests: dict, shares: int, quota: int, period: int, mem: int) -> None:
    r = linux_resources(resources(limits, requests))
    assert (r.cpu_shares, r.cpu_quota, r.cpu_period, r.memory_limit_in_bytes) == (shares, quota, period, mem)


def test_container_config() -> None:
    pod = make_pod()
    c = pod.spec.containers[0]
    c.working_dir = "/w"
    c.volume_mounts.add(name="data", mount_path="/data", read_only=True)
    cfg = build_container_config(
        pod,
        c,
        attempt=3,
        image_ref="sha256:abc",
        env=[("A", "1")],
        volume_paths={"data": "/var/lib/k/pods/u-1/volumes/empty-dir/data"},
    )
    assert cfg.metadata.name == "c" and cfg.metadata.attempt == 3
    assert cfg.image.image == "sha256:abc" and cfg.image.user_specified_image == "busybox:1.36"
    assert list(cfg.command) == ["sh"] and list(cfg.args) == ["-c", "sleep 1"]
    assert cfg.log_path == "c/3.log"
    assert [(e.key, e.value) for e in cfg.envs] == [("A", "1")]
    assert cfg.mounts[0].container_path == "/data" and cfg.mounts[0].readonly
    assert cfg.labels[L.CONTAINER_NAME] == "c" and cfg.labels[L.POD_UID] == "u-1"
    assert cfg.working_dir == "/w"


def test_mount_of_unknown_volume_and_escaping_subpath_are_config_errors() -> None:
    c = container_pb2.Container(name="c")
    c.volume_mounts.add(name="nope", mount_path="/x")
    with pytest.raises(ConfigError, match='"nope"'):
        mounts(c, {})
    c2 = container_pb2.Container(name="c")
    c2.volume_mounts.add(name="v", mount_path="/x", sub_path="../etc")
    with pytest.raises(ConfigError, match="subPath"):
        mounts(c2, {"v": "/tmp"})


@pytest.mark.parametrize(
    ("image", "policy", "expected"),
    [
        ("busybox", "", "Always"),
        ("busybox:latest", "", "Always"),
        ("busybox:1.36", "", "IfNotPresent"),
        ("registry:5000/busybox", "", "Always"),
        ("registry:5000/busybox:1", "", "IfNotPresent"),
        ("busybox@sha256:abcd", "", "IfNotPresent"),
        ("busybox", "Never", "Never"),
    ],
)
def test_pull_policy(image: str, policy: str, expected: str) -> None:
    assert pull_policy(container_pb2.Container(image=image, image_pull_policy=policy)) == expected


@pytest.mark.parametrize(("restarts", "delay"), [(0, 0), (1, 10), (2, 20), (3, 40), (6, 300), (50, 300)])
def test_crash_backoff(restarts: int, delay: float) -> None:
    assert crash_backoff(restarts) == delay


def test_grace_seconds_precedence() -> None:
    pod = make_pod()
    assert grace_seconds(pod) == 30
    pod.spec.termination_grace_period_seconds = 5
    assert grace_seconds(pod) == 5
    pod.metadata.deletion_grace_period_seconds = 0
    assert grace_seconds(pod) == 0
