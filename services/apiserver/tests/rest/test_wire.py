"""The REST port's wire format where kubectl and client-go depend on details: aggregated discovery's
content type, health checks with per-check detail, authentication, Warning headers, watch bookmarks and
timeouts. Driven by a plain HTTPS client (aiohttp) with the admin certificate."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest
from rest_testlib import Rest

pytestmark = pytest.mark.etcd
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def context(rest: Rest, *, with_cert: bool = True) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=rest.admin.ca_file)
    if with_cert:
        ctx.load_cert_chain(rest.admin.cert_file, rest.admin.key_file)
    return ctx


@pytest.fixture
async def http(rest: Rest) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=context(rest))
    async with aiohttp.ClientSession(base_url=rest.url, connector=connector) as session:
        yield session


async def test_aggregated_discovery(http: aiohttp.ClientSession) -> None:
    async with http.get("/apis", headers={"Accept": f"{AGGREGATED},application/json"}) as resp:
        assert resp.headers["Content-Type"] == AGGREGATED
        body = await resp.json(content_type=None)
    assert body["kind"] == "APIGroupDiscoveryList"
    apps = next(g for g in body["items"] if g["metadata"]["name"] == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deployments["scope"] == "Namespaced" and deployments["shortNames"] == ["deploy"]
    assert deployments["categories"] == ["all"]
    scale = next(s for s in deployments["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    async with http.get("/api", headers={"Accept": "application/json"}) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        assert (await resp.json())["versions"] == ["v1"]


async def test_health_endpoints(rest: Rest, http: aiohttp.ClientSession) -> None:
    async with http.get("/readyz?verbose") as resp:
        text = await resp.text()
    assert resp.status == 200 and "[+]etcd ok" in text and text.endswith("readyz check passed\n")
    async with http.get("/livez/etcd") as resp:
        assert resp.status == 200 and await resp.text() == "ok"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context(rest, with_cert=False))) as anon:
        async with anon.get(f"{rest.url}/healthz") as resp:
            assert resp.status == 200
        async with anon.get(f"{rest.url}/api/v1/pods") as resp:
            assert resp.status == 401 and (await resp.json())["reason"] == "Unauthorized"


async def test_warning_header_and_table(http: aiohttp.ClientSession) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}, "junk": 1}
    async with http.post("/api/v1/namespaces/default/configmaps?fieldValidation=Warn", json=body) as resp:
        assert resp.status == 201
        assert resp.headers["Warning"] == '299 - "unknown field \\"junk\\""'
    table_type = "application/json;as=Table;v=v1;g=meta.k8s.io"
    async with http.get("/api/v1/namespaces/default/configmaps", headers={"Accept": table_type}) as resp:
        table = await resp.json(content_type=None)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["rows"][0]["cells"][:2] == ["cm", 1]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_watch_bookmarks_and_timeout(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v1/namespaces/default/pods") as resp:
        rv = (await resp.json())["metadata"]["resourceVersion"]
    query = f"watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=2"
    async with http.get(f"/api/v1/namespaces/default/pods?{query}") as resp:
        events = [json.loads(line) for line in (await resp.read()).splitlines() if line]
    assert events and all(e["type"] == "BOOKMARK" for e in events)
    assert events[0]["object"]["kind"] == "Pod" and int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)


async def test_unknown_paths_and_methods(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v1/namespaces/default/widgets") as resp:
        assert resp.status == 404 and (await resp.json())["reason"] == "NotFound"
    async with http.put("/api/v1/namespaces/default/pods", json={}) as resp:
        assert resp.status == 405 and (await resp.json())["reason"] == "MethodNotAllowed"
    patch = {"Content-Type": "application/x-unknown-patch"}
    async with http.patch("/api/v1/namespaces/default/pods/x", data=b"{}", headers=patch) as resp:
        assert resp.status == 415


async def test_metrics_count_rest_requests(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v1/namespaces/default/pods"):
        pass
    async with http.get("/metrics") as resp:
        text = await resp.text()
    listed = [line for line in text.splitlines() if line.startswith("apiserver_request_total{")]
    assert resp.status == 200 and any('verb="LIST"' in x and 'resource="pods"' in x for x in listed), listed


async def test_request_timeout_parameter(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v1/namespaces/default/pods?timeout=1m0s") as resp:
        assert resp.status == 200
    async with http.get("/api/v1/namespaces/default/pods?timeout=soon") as resp:
        assert resp.status == 400 and "timeout: invalid duration" in (await resp.json())["message"]


async def test_openapi_documents(http: aiohttp.ClientSession) -> None:
    """v3 carries the list types server-side apply uses; v2 is served as JSON and as gnostic protobuf."""
    async with http.get("/openapi/v3/apis/apps/v1") as resp:
        schemas = (await resp.json())["components"]["schemas"]
    containers = schemas["skiff.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-list-type"] == "map" and containers["x-kubernetes-list-map-keys"] == ["name"]
    ports = schemas["skiff.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert schemas["skiff.api.core.v1.Container"]["properties"]["args"]["x-kubernetes-list-type"] == "atomic"
    assert schemas["skiff.api.meta.v1.LabelSelector"]["x-kubernetes-map-type"] == "atomic"
    async with http.get("/openapi/v2", headers={"Accept": "application/json"}) as resp:
        v2 = await resp.json()
    deployment = v2["definitions"]["skiff.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "version": "v1", "kind": "Deployment"}]
    assert deployment["properties"]["spec"] == {"$ref": "#/definitions/skiff.api.apps.v1.DeploymentSpec"}
    port = v2["definitions"]["skiff.api.core.v1.ServicePort"]["properties"]["targetPort"]
    assert port == {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True}
    accept = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    async with http.get("/openapi/v2", headers={"Accept": accept}) as resp:
        assert resp.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        assert b"x-kubernetes-group-version-kind" in await resp.read()
