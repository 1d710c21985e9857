"""The lease endpoint reconciler against real etcd: the `kubernetes` Service's Endpoints and EndpointSlices
list every apiserver with a live master lease. Two apiservers share one etcd prefix: both are listed; one
stopped cleanly is removed at once; one that stops refreshing (kill -9) is removed when its lease expires;
deleted objects come back, and an etcd restart loses nobody. TTLs and intervals are short parameters;
nothing here measures time, it waits for the stored objects to say what they must."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from apiserver_etcd import EtcdMember, free_port, make_config, start_server, wait_healthy
from apiserver_testlib import get
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.app import ApiServerApp
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry.endpointreconciler import LeaseEndpointReconciler
from skiff_apiserver.registry.masterleases import Master, MasterLeases
from skiff_apiserver.registry.reads import ListOptions

pytestmark = pytest.mark.etcd

FAST = {"endpoint_reconciler_interval": 0.2, "endpoint_reconciler_ttl": 2}


async def until(what: str, check: Callable[[], Awaitable[Any]], attempts: int = 300) -> Any:
    """Poll `check` (0.1 s apart) until it returns something true; fail naming what was seen last."""
    last: Any = None
    for _ in range(attempts):
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


async def listed(api: Any) -> list[tuple[str, int]]:
    """(ip, port) of every address of the kubernetes Endpoints, sorted."""
    ep = await get(api.stub, "endpoints", "kubernetes")
    return sorted((a.ip, p.port) for s in ep.subsets for a in s.addresses for p in s.ports)


async def slices(api: Any) -> dict[str, list[tuple[str, int]]]:
    info = kinds.kind_of(es.EndpointSlice())
    opts = ListOptions(namespace="default", label_selector="kubernetes.io/service-name=kubernetes")
    found, _ = await api.app.registry.list(info, opts)
    return {s.metadata.name: sorted((e.addresses[0], p.port) for e in s.endpoints for p in s.ports) for s in found}


def me(api: Any) -> tuple[str, int]:
    return ("127.0.0.1", api.app.port)


async def test_every_apiserver_is_listed_and_a_clean_stop_removes_itself(server_factory, etcd) -> None:
    first = await server_factory(**FAST)
    second = await start_server(make_config([etcd.endpoint], etcd_prefix=first.app.cfg.etcd_prefix, **FAST))
    try:
        both = sorted([me(first), me(second)])
        assert await until("both apiservers listed", lambda: _is(listed(first), both))
        ep = await get(first.stub, "endpoints", "kubernetes")
        assert ep.metadata.labels["endpointslice.kubernetes.io/skip-mirror"] == "true"
        assert len(ep.subsets) == 2  # one address, two ports: a subset per port
        low, high = sorted([first.app.port, second.app.port])
        want = {"kubernetes": [("127.0.0.1", low)], f"kubernetes-{high}": [("127.0.0.1", high)]}
        assert await until("a slice per port", lambda: _is(slices(first), want))
    finally:
        await second.channel.close()
        await second.app.stop(0)
    # RemoveEndpoints: gone as soon as stop() returns, no lease to wait out
    assert await listed(first) == [me(first)]
    assert await slices(first) == {"kubernetes": [me(first)]}


async def test_a_killed_apiserver_drops_out_when_its_lease_expires(server_factory) -> None:
    api = await server_factory(**FAST)
    app: ApiServerApp = api.app
    assert app.client is not None and app.registry is not None
    # a second apiserver's reconciler on the same etcd and objects, which then dies without a word
    ghost = Master("127.0.0.3", 6443)
    leases = MasterLeases(app.client, app.cfg.etcd_prefix, ttl=2)
    other = LeaseEndpointReconciler(app.registry, leases, ghost, interval=0.2)
    assert ghost in await other.reconcile()
    assert await until("the second apiserver listed", lambda: _has(listed(api), ("127.0.0.3", 6443)))
    assert ("127.0.0.3", 6443) in (await slices(api))["kubernetes-6443" if api.app.port < 6443 else "kubernetes"]
    # it never refreshes again (no stop(), as after kill -9): etcd expires its key, the survivor rewrites
    assert await until("the dead apiserver dropped", lambda: _is(listed(api), [me(api)]))
    assert await until("its slice dropped", lambda: _is(slices(api), {"kubernetes": [me(api)]}))
    assert await leases.live() == [Master(*me(api))]


async def test_deleted_endpoints_and_slices_come_back(server_factory) -> None:
    api = await server_factory(**FAST)
    await api.stub.Delete(pb.DeleteRequest(resource="endpoints", namespace="default", name="kubernetes"))
    await api.stub.Delete(pb.DeleteRequest(resource="endpointslices", namespace="default", name="kubernetes"))
    assert await until("the Endpoints rewritten", lambda: _is(_quiet(listed(api)), [me(api)]))
    assert await until("the slice rewritten", lambda: _is(slices(api), {"kubernetes": [me(api)]}))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"endpoint_reconciler_ttl": 0}, "--endpoint-reconciler-ttl: must be at least 1 second, got 0"),
        ({"endpoint_reconciler_interval": 0.0}, "--endpoint-reconciler-interval: must be more than 0"),
        ({"endpoint_reconciler_ttl": 5, "endpoint_reconciler_interval": 5.0}, "less than the TTL \\(5 s\\)"),
    ],
)
async def test_a_lease_that_cannot_outlive_its_refreshes_is_refused(etcd, flags: dict, message: str) -> None:  # type: ignore[type-arg]
    app = ApiServerApp(make_config([etcd.endpoint], **flags))
    with pytest.raises(ValueError, match=message):
        await app.start()


async def test_an_unknown_reconciler_type_is_refused_by_flag_name(etcd) -> None:
    app = ApiServerApp(make_config([etcd.endpoint], endpoint_reconciler_type="master-count"))
    with pytest.raises(ValueError, match="--endpoint-reconciler-type: unsupported value 'master-count'"):
        await app.start()


async def test_an_etcd_restart_loses_no_apiserver(tmp_path: Path) -> None:
    m = EtcdMember(f"apiserver-l{uuid.uuid4().hex[:6]}", tmp_path / "data", free_port(), free_port())
    m.start()
    wait_healthy(m.endpoint)
    srv = await start_server(make_config([m.endpoint], etcd_timeout=15.0, **FAST))
    try:
        assert await listed(srv) == [me(srv)]
        m.kill()
        m.start(new=False)
        wait_healthy(m.endpoint)
        # the lease survived (etcd keeps leases across restarts) and the loop carried on: delete the
        # Endpoints and the reconciler, still refreshing, writes them back with this apiserver
        assert srv.app.endpoints is not None
        assert await until("the lease still there", lambda: _is(srv.app.endpoints.leases.live(), [Master(*me(srv))]))
        await until("a delete after the restart", lambda: _deleted(srv))
        assert await until("the Endpoints rewritten", lambda: _is(_quiet(listed(srv)), [me(srv)]))
    finally:
        await srv.channel.close()
        await srv.app.stop(0)
        m.kill()
        shutil.rmtree(m.data_dir, ignore_errors=True)


async def _is(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected


async def _has(value: Awaitable[Any], item: Any) -> bool:
    return item in await value


async def _quiet(value: Awaitable[Any]) -> Any:
    """The value, or None while the object is missing (between a delete and the next pass)."""
    try:
        return await value
    except Exception:
        return None


async def _deleted(api: Any) -> bool:
    try:
        await api.stub.Delete(pb.DeleteRequest(resource="endpoints", namespace="default", name="kubernetes"))
        return True
    except Exception:
        return False  # etcd or the apiserver's watch still catching up after the restart
