"""The sync loop's decisions (full vs delta vs nothing, retry after a refused apply, health), with the
real nftables renderer and a recording stand-in for the kernel."""

from __future__ import annotations

import asyncio

from skiff_proxy.kernel import ApplyError
from skiff_proxy.model import Backend, ServicePort
from skiff_proxy.nftables import Options, build
from skiff_proxy.syncer import Syncer

OPTS = Options(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/16")


def ports(*ips: str) -> list[ServicePort]:
    return [ServicePort("default", "web", "", "tcp", "10.96.0.10", 80, 0, 0, tuple(Backend(ip, 80) for ip in ips))]


async def test_full_then_delta_then_nothing_and_full_after_a_failure() -> None:
    state = {"ports": ports("10.244.0.2")}
    applied: list[str] = []
    fail = [False]

    async def apply(text: str) -> None:
        if fail[0]:
            raise ApplyError("refused")
        applied.append(text)

    s = Syncer(lambda: build(state["ports"], OPTS), apply, min_sync_period=0)
    assert not s.healthy()
    await s.sync()
    assert "delete table" in applied[-1] and s.healthy()
    state["ports"] = ports("10.244.0.2", "10.244.0.3")
    s.request(endpoints=1)
    await s.sync()
    assert "delete table" not in applied[-1] and "dnat to 10.244.0.3:80" in applied[-1]
    await s.sync()
    assert len(applied) == 2  # nothing changed: nothing written
    state["ports"] = ports("10.244.0.4")
    fail[0] = True
    try:
        await s.sync()
    except ApplyError:
        pass
    fail[0] = False
    await s.sync()
    assert "delete table" in applied[-1] and "10.244.0.4" in applied[-1]
    await s.sync(periodic=True)
    assert "delete table" in applied[-1] and len(applied) == 4


async def test_bursts_are_batched_and_stale_queues_are_unhealthy() -> None:
    applied: list[str] = []
    state = {"n": 0}
    second = asyncio.Event()

    async def apply(text: str) -> None:
        applied.append(text)
        if len(applied) == 2:
            second.set()

    def render():  # type: ignore[no-untyped-def]
        return build(ports(*(f"10.244.0.{i + 2}" for i in range(state["n"]))), OPTS)

    s = Syncer(render, apply, min_sync_period=0.2, sync_period=3600)
    await s.sync()
    task = asyncio.create_task(s.run())
    try:
        for i in range(1, 6):
            state["n"] = i
            s.request(endpoints=1)
        await asyncio.wait_for(second.wait(), 30)
        await asyncio.sleep(0.3)
        assert len(applied) == 2 and "10.244.0.6" in applied[-1]  # five changes, one sync
    finally:
        task.cancel()
    s.request(endpoints=1)
    assert s.queued_at is not None and not s.healthy(now=s.queued_at + 2 * s.sync_period + 1)


async def test_metrics_have_kube_proxys_names() -> None:
    from prometheus_client import REGISTRY

    def value(name: str) -> float:
        v = REGISTRY.get_sample_value(name)
        return 0.0 if v is None else v

    async def apply(_text: str) -> None:
        return None

    s = Syncer(lambda: build(ports("10.244.0.2"), OPTS), apply, min_sync_period=0)
    total = value("kubeproxy_sync_proxy_rules_endpoint_changes_total")
    syncs = value("kubeproxy_sync_proxy_rules_duration_seconds_count")
    pending = value("kubeproxy_sync_proxy_rules_endpoint_changes_pending")  # the registry is process-wide
    s.request(endpoints=2)
    assert value("kubeproxy_sync_proxy_rules_endpoint_changes_pending") == pending + 2
    await s.sync()
    assert value("kubeproxy_sync_proxy_rules_endpoint_changes_pending") == 0
    assert value("kubeproxy_sync_proxy_rules_endpoint_changes_total") == total + 2
    assert value("kubeproxy_sync_proxy_rules_duration_seconds_count") == syncs + 1
    assert value("kubeproxy_sync_proxy_rules_last_timestamp_seconds") == s.synced_at
