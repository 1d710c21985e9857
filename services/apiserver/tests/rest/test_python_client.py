"""The official Python `kubernetes` client against the REST port: CRUD, list with selectors and
pagination, watch with resume from a resourceVersion (and 410 Expired), each patch type, dry run,
fieldValidation, deletecollection, the status and scale subresources. The client's own models and error
handling are the oracle: a server that answers differently from Kubernetes fails to deserialize here."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException
from rest_testlib import Rest

pytestmark = pytest.mark.etcd


@pytest.fixture
def api(rest: Rest) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(rest.kubeconfig))
    try:
        yield c
    finally:
        c.close()


def pod(name: str, labels: dict[str, str] | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
    )


def deployment(name: str, replicas: int = 1) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(name="c", image="busybox", env=[client.V1EnvVar(name="A", value="1")])
                    ]
                ),
            ),
        ),
    )


async def test_crud(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)

    def run() -> None:
        created = core.create_namespaced_pod("default", pod("p1", {"app": "a"}))
        assert created.metadata.uid and created.metadata.resource_version
        got = core.read_namespaced_pod("p1", "default")
        assert got.spec.containers[0].image == "busybox" and got.metadata.labels == {"app": "a"}
        got.metadata.labels["tier"] = "x"
        updated = core.replace_namespaced_pod("p1", "default", got)
        assert updated.metadata.labels == {"app": "a", "tier": "x"}
        stale = got  # its resourceVersion is now old
        with pytest.raises(ApiException) as conflict:
            core.replace_namespaced_pod("p1", "default", stale)
        assert conflict.value.status == 409
        with pytest.raises(ApiException) as exists:
            core.create_namespaced_pod("default", pod("p1"))
        assert exists.value.status == 409 and '"reason":"AlreadyExists"' in exists.value.body
        with pytest.raises(ApiException) as invalid:
            core.create_namespaced_pod("default", pod("Bad_Name"))
        assert invalid.value.status == 422 and '"field":"metadata.name"' in invalid.value.body
        core.delete_namespaced_pod("p1", "default", grace_period_seconds=0)
        with pytest.raises(ApiException) as missing:
            core.read_namespaced_pod("p1", "default")
        assert missing.value.status == 404

    await asyncio.to_thread(run)


async def test_list_selectors_and_pagination(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)

    def run() -> None:
        for i in range(5):
            core.create_namespaced_pod("default", pod(f"p{i}", {"n": str(i % 2)}))
        assert {p.metadata.name for p in core.list_namespaced_pod("default", label_selector="n=1").items} == {
            "p1",
            "p3",
        }
        only = core.list_namespaced_pod("default", field_selector="metadata.name=p2").items
        assert [p.metadata.name for p in only] == ["p2"]
        names, token = [], None
        while True:
            page = core.list_namespaced_pod("default", limit=2, _continue=token)
            names += [p.metadata.name for p in page.items]
            token = page.metadata._continue
            if not token:
                break
        assert names == [f"p{i}" for i in range(5)]
        assert len(core.list_pod_for_all_namespaces().items) == 5
        with pytest.raises(ApiException) as bad:
            core.list_namespaced_pod("default", label_selector="a in (")
        assert bad.value.status == 400

    await asyncio.to_thread(run)


async def test_watch_and_resume(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)

    def run() -> None:
        listed = core.list_namespaced_pod("default")
        rv = listed.metadata.resource_version
        core.create_namespaced_pod("default", pod("w1"))
        core.patch_namespaced_pod("w1", "default", {"metadata": {"labels": {"x": "1"}}})
        core.delete_namespaced_pod("w1", "default", grace_period_seconds=0)
        seen = []
        w = watch.Watch()
        for event in w.stream(core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=5):
            seen.append((event["type"], event["object"].metadata.name, event["object"].metadata.resource_version))
            if event["type"] == "DELETED":
                w.stop()
        assert [t for t, _, _ in seen] == ["ADDED", "MODIFIED", "DELETED"]
        # Resume after the first event: only what followed it.
        again = []
        for event in w.stream(core.list_namespaced_pod, "default", resource_version=seen[0][2], timeout_seconds=5):
            again.append(event["type"])
            if event["type"] == "DELETED":
                w.stop()
        assert again == ["MODIFIED", "DELETED"]

    await asyncio.to_thread(run)


async def test_watch_expired_is_410(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)

    def run() -> None:
        with pytest.raises(ApiException) as gone:
            for _ in watch.Watch().stream(core.list_namespaced_pod, "default", resource_version="1", timeout_seconds=5):
                pass
        assert gone.value.status == 410

    await asyncio.to_thread(run)


async def test_patch_types(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)

    def run() -> None:
        apps.create_namespaced_deployment("default", deployment("d"))
        # Strategic merge (the client's default for a dict): containers merge by name, env by name.
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "B", "value": "2"}]}]}}}}
        d = apps.patch_namespaced_deployment("d", "default", patch)
        container = d.spec.template.spec.containers[0]
        assert container.image == "busybox" and [(e.name, e.value) for e in container.env] == [("A", "1"), ("B", "2")]
        # JSON merge patch replaces the list whole.
        api.set_default_header("Content-Type", "application/merge-patch+json")
        merge = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
        d = apps.patch_namespaced_deployment("d", "default", merge)
        assert d.spec.template.spec.containers[0].env is None
        api.default_headers.pop("Content-Type")
        # JSON patch (a list body).
        d = apps.patch_namespaced_deployment("d", "default", [{"op": "replace", "path": "/spec/replicas", "value": 4}])
        assert d.spec.replicas == 4
        # The scale subresource.
        scale = apps.patch_namespaced_deployment_scale("d", "default", {"spec": {"replicas": 2}})
        assert scale.spec.replicas == 2 and apps.read_namespaced_deployment("d", "default").spec.replicas == 2
        assert apps.read_namespaced_deployment_scale("d", "default").spec.replicas == 2
        # The status subresource: only status changes.
        status = apps.patch_namespaced_deployment_status("d", "default", {"status": {"readyReplicas": 1}})
        assert status.status.ready_replicas == 1

    await asyncio.to_thread(run)


async def test_dry_run_field_validation_and_deletecollection(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)

    def run() -> None:
        core.create_namespaced_pod("default", pod("dry"), dry_run="All")
        with pytest.raises(ApiException) as missing:
            core.read_namespaced_pod("dry", "default")
        assert missing.value.status == 404
        # Unknown fields: the typed models refuse them, so the dynamic client (raw dicts) sends them.
        configmaps = dynamic.DynamicClient(api).resources.get(api_version="v1", kind="ConfigMap")
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}, "junk": 1}
        with pytest.raises(ApiException) as strict:
            configmaps.create(body=body, namespace="default", query_params=[("fieldValidation", "Strict")])
        assert strict.value.status == 400 and 'strict decoding error: unknown field \\"junk\\"' in strict.value.body
        created = configmaps.create(body=body, namespace="default", query_params=[("fieldValidation", "Ignore")])
        assert created.data.a == "1"
        for i in range(3):
            core.create_namespaced_pod("default", pod(f"gc{i}", {"batch": "y"}))
        core.delete_collection_namespaced_pod("default", label_selector="batch=y", grace_period_seconds=0)
        assert core.list_namespaced_pod("default", label_selector="batch=y").items == []

    await asyncio.to_thread(run)


async def test_list_resource_version_match(api: client.ApiClient) -> None:
    """A list at resourceVersion N is NotOlderThan N by default (the latest state), Exact only when asked."""
    core = client.CoreV1Api(api)

    def run() -> None:
        rv = core.list_namespaced_pod("default").metadata.resource_version
        core.create_namespaced_pod("default", pod("later"))
        newer = core.list_namespaced_pod("default", resource_version=rv)
        assert [p.metadata.name for p in newer.items] == ["later"]
        exact = core.list_namespaced_pod("default", resource_version=rv, resource_version_match="Exact")
        assert exact.items == [] and exact.metadata.resource_version == rv
        with pytest.raises(ApiException) as bad:
            core.list_namespaced_pod("default", resource_version_match="Exact")
        assert bad.value.status == 400

    await asyncio.to_thread(run)
