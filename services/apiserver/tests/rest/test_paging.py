"""Paged lists over the REST port as kubectl reads them (`limit` + `continue`, Table rows): the pages of one
list add up to the unpaged list, selectors included, and an expired continue token is Kubernetes' 410 with
a token to go on. kubectl's own output is the oracle: `--chunk-size=N` must print what one request prints."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest
from rest_testlib import KUBECTL_VERSIONS, Rest, kubectl_binary

pytestmark = pytest.mark.etcd
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


@pytest.fixture
async def http(rest: Rest) -> AsyncIterator[aiohttp.ClientSession]:
    ctx = ssl.create_default_context(cafile=rest.admin.ca_file)
    ctx.load_cert_chain(rest.admin.cert_file, rest.admin.key_file)
    async with aiohttp.ClientSession(base_url=rest.url, connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        yield session


async def create_pods(http: aiohttp.ClientSession, namespace: str, count: int) -> None:
    async with http.post("/api/v1/namespaces", json={"metadata": {"name": namespace}}) as resp:
        assert resp.status in (201, 409), await resp.text()
    for i in range(count):
        pod = {
            "metadata": {"name": f"p{i:02d}", "labels": {"even": str(i % 2 == 0).lower()}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        async with http.post(f"/api/v1/namespaces/{namespace}/pods", json=pod) as resp:
            assert resp.status == 201, await resp.text()


def without_age(text: str) -> list[list[str]]:
    """The table's cells without AGE, which may tick between two runs of kubectl."""
    rows = [line.split() for line in text.strip().splitlines()]
    at = rows[0].index("AGE")
    return [row[:at] + row[at + 1 :] for row in rows]


async def get(http: aiohttp.ClientSession, path: str, **query: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with http.get(path, params=query, headers={"Accept": TABLE}) as resp:
        return resp.status, json.loads(await resp.read())


@pytest.mark.parametrize("version", KUBECTL_VERSIONS)
async def test_kubectl_prints_the_same_paged_and_unpaged(rest: Rest, http: aiohttp.ClientSession, version: str) -> None:
    kubectl_binary(version)
    await create_pods(http, "pa", 7)
    await create_pods(http, "pb", 5)

    def run() -> None:
        for extra in ([], ["-l", "even=true"], ["--field-selector", "metadata.namespace=pb"], ["-o", "wide"]):
            whole = without_age(rest.kubectl(version, "get", "pods", "-A", "--chunk-size=0", *extra).stdout)
            for chunk in ("1", "3", "500"):
                paged = rest.kubectl(version, "get", "pods", "-A", f"--chunk-size={chunk}", *extra).stdout
                assert without_age(paged) == whole, (extra, chunk)
            expected = {"even=true": 7, "metadata.namespace=pb": 5}.get(extra[-1] if extra else "", 12)
            assert len(whole) == 1 + expected, extra

    await asyncio.to_thread(run)


async def test_pages_are_one_snapshot_and_expire_with_a_fresh_token(rest: Rest, http: aiohttp.ClientSession) -> None:
    await create_pods(http, "pc", 4)
    status, first = await get(http, "/api/v1/namespaces/pc/pods", limit="2")
    assert status == 200 and [r["cells"][0] for r in first["rows"]] == ["p00", "p01"]
    token, rv = first["metadata"]["continue"], first["metadata"]["resourceVersion"]
    async with http.post("/api/v1/namespaces/pc/pods", json={
        "metadata": {"name": "p09"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }) as resp:  # fmt: skip
        assert resp.status == 201
    status, second = await get(http, "/api/v1/namespaces/pc/pods", limit="2", **{"continue": token})
    assert status == 200 and second["metadata"]["resourceVersion"] == rv
    assert [r["cells"][0] for r in second["rows"]] == ["p02", "p03"]  # p09 is not in the first page's snapshot

    await rest.app.client.compact(await rest.app.client.current_revision())  # type: ignore[attr-defined]
    status, gone = await get(http, "/api/v1/namespaces/pc/pods", limit="2", **{"continue": token})
    assert status == 410 and gone["kind"] == "Status" and gone["reason"] == "Expired"
    assert gone["message"].startswith("The provided continue parameter is too old to display a consistent list")
    status, rest_of = await get(
        http, "/api/v1/namespaces/pc/pods", limit="5", **{"continue": gone["metadata"]["continue"]}
    )
    assert status == 200 and [r["cells"][0] for r in rest_of["rows"]] == ["p02", "p03", "p09"]
    assert int(rest_of["metadata"]["resourceVersion"]) > int(rv) and "continue" not in rest_of["metadata"]
