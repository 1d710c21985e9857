"""Environment resolution against an in-memory lookup."""

from __future__ import annotations

import pytest
from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_kubelet.env import ConfigError, expand, resolve_env


class DictLookup:
    def __init__(self, secrets: dict[str, dict[str, bytes]], cms: dict[str, dict[str, str]]) -> None:
        self.secrets, self.cms = secrets, cms

    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        return self.secrets.get(f"{namespace}/{name}")

    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.cms.get(f"{namespace}/{name}")


LOOKUP = DictLookup({"ns/s": {"password": b"hunter2"}}, {"ns/cm": {"mode": "fast", "level": "3"}})


def pod_with(c: container_pb2.Container) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace="ns", uid="u", labels={"app": "x"}))
    pod.spec.node_name = "n1"
    pod.status.pod_ip = "10.88.0.5"
    c.resources.limits["memory"].value = "64Mi"
    pod.spec.containers.append(c)
    return pod


async def test_all_sources_and_precedence() -> None:
    c = container_pb2.Container(name="c")
    c.env_from.add(prefix="CM_").config_map_ref.name = "cm"
    c.env_from.add().secret_ref.name = "s"
    c.env.add(name="CM_mode", value="slow")  # env wins over envFrom
    c.env.add(name="GREETING", value="hi $(CM_level) $$(x) $(UNKNOWN)")
    c.env.add(name="POD").value_from.field_ref.field_path = "metadata.name"
    c.env.add(name="IP").value_from.field_ref.field_path = "status.podIP"
    c.env.add(name="APP").value_from.field_ref.field_path = "metadata.labels['app']"
    c.env.add(name="NODE").value_from.field_ref.field_path = "spec.nodeName"
    e = c.env.add(name="PW").value_from.secret_key_ref
    e.name, e.key = "s", "password"
    m = c.env.add(name="MODE").value_from.config_map_key_ref
    m.name, m.key = "cm", "mode"
    r = c.env.add(name="MEM").value_from.resource_field_ref
    r.resource = "limits.memory"
    r.divisor.value = "1Mi"
    env = dict(await resolve_env(pod_with(c), c, LOOKUP))
    assert env["CM_mode"] == "slow" and env["CM_level"] == "3"
    assert env["password"] == "hunter2"
    assert env["GREETING"] == "hi 3 $(x) $(UNKNOWN)"
    assert (env["POD"], env["IP"], env["APP"], env["NODE"]) == ("p", "10.88.0.5", "x", "n1")
    assert env["PW"] == "hunter2" and env["MODE"] == "fast" and env["MEM"] == "64"


@pytest.mark.parametrize(
    ("kind", "name", "key", "optional", "error"),
    [
        ("secret", "missing", "k", False, 'secret "missing" not found'),
        ("secret", "s", "nokey", False, 'key "nokey" in secret "s" not found'),
        ("configmap", "missing", "k", False, 'configmap "missing" not found'),
        ("configmap", "missing", "k", True, None),
        ("secret", "s", "nokey", True, None),
    ],
)
async def test_missing_sources(kind: str, name: str, key: str, optional: bool, error: str | None) -> None:
    c = container_pb2.Container(name="c")
    vf = c.env.add(name="X").value_from
    ref = vf.secret_key_ref if kind == "secret" else vf.config_map_key_ref
    ref.name, ref.key = name, key
    if optional:
        ref.optional = True
    if error:
        with pytest.raises(ConfigError, match=error):
            await resolve_env(pod_with(c), c, LOOKUP)
    else:
        assert await resolve_env(pod_with(c), c, LOOKUP) == []


async def test_bad_field_path_is_config_error() -> None:
    c = container_pb2.Container(name="c")
    c.env.add(name="X").value_from.field_ref.field_path = "spec.nope"
    with pytest.raises(ConfigError, match=r"spec\.nope"):
        await resolve_env(pod_with(c), c, LOOKUP)


def test_expand() -> None:
    assert expand("$(A)-$(B)", {"A": "1"}) == "1-$(B)"
    assert expand("$$(A)", {"A": "1"}) == "$(A)"


async def test_resource_field_ref_env_reads_the_nodes_allocatable_without_a_limit() -> None:
    """The docs' dapi-envars-resourcefieldref with the cpu limit left out: the node's allocatable."""
    c = container_pb2.Container(name="test-container")
    c.resources.requests["cpu"].value = "125m"
    for name, res, divisor in (("MY_CPU_REQUEST", "requests.cpu", "1m"), ("MY_CPU_LIMIT", "limits.cpu", "1m")):
        ref = c.env.add(name=name).value_from.resource_field_ref
        ref.container_name, ref.resource, ref.divisor.value = "test-container", res, divisor
    ref = c.env.add(name="MY_MEM_LIMIT").value_from.resource_field_ref
    ref.resource = "limits.memory"  # no containerName: the env var's own container
    env = dict(await resolve_env(pod_with(c), c, LOOKUP, allocatable={"cpu": "4", "memory": "8Gi"}))
    assert env == {"MY_CPU_REQUEST": "125", "MY_CPU_LIMIT": "4000", "MY_MEM_LIMIT": str(64 * 2**20)}
