"""Assembly: Service and EndpointSlice informers -> change counts -> the Syncer -> the kernel; /healthz
(healthz.py).

Informer handlers only count changes and wake the syncer; the syncer reads both caches whole when it
renders, so the ruleset is always computed from one consistent view of the caches (level-triggered,
like kube-proxy's syncProxyRules). The first sync waits until both caches have synced, so a restart
never programs an empty ruleset over a good one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from skiff.api.core.v1 import service_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff_client import ApiClient, InformerFactory
from skiff_common.observability import get_logger
from skiff_common.tasks import TaskSet

from skiff_proxy import model
from skiff_proxy.config import ProxyConfig
from skiff_proxy.healthz import HealthzServer
from skiff_proxy.modes import Desired, Mode, mode_named
from skiff_proxy.nftables import Options
from skiff_proxy.syncer import Syncer

log = get_logger(__name__)


def options_from(cfg: ProxyConfig) -> Options:
    return Options(
        table=cfg.table,
        cluster_cidr=cfg.cluster_cidr,
        service_cidr=cfg.service_cidr,
        nodeport_addresses=tuple(cfg.nodeport_addresses),
        pod_bridge=cfg.pod_bridge,
    )


class ProxyApp:
    def __init__(
        self,
        api: ApiClient,
        cfg: ProxyConfig,
        *,
        prefix: Sequence[str] = (),
        on_applied: Callable[[str, float], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.mode: Mode = mode_named(cfg.proxy_mode)
        self.opts = options_from(cfg)
        self.prefix = list(prefix)  # run the kernel tools elsewhere (tests, benchmarks: ip netns exec)
        self.factory = InformerFactory(api)
        self.services = self.factory.informer(service_pb2.Service)
        self.slices = self.factory.informer(es.EndpointSlice)
        self.syncer = Syncer(
            self.render,
            lambda text: self.mode.apply(text, self.opts, self.prefix),
            mode=self.mode.name,
            min_sync_period=cfg.min_sync_period,
            sync_period=cfg.sync_period,
            full_sync_period=cfg.full_sync_period,
            on_applied=on_applied,
        )
        self.services.add_handler(
            on_add=lambda _o: self.syncer.request(services=1),
            on_update=lambda old, new: self._service_changed(old, new),
            on_delete=lambda _o: self.syncer.request(services=1),
        )
        self.slices.add_handler(
            on_add=lambda _o: self.syncer.request(endpoints=1),
            on_update=lambda old, new: self._slice_changed(old, new),
            on_delete=lambda _o: self.syncer.request(endpoints=1),
        )
        self.model = model.ModelCache()
        self._tasks = TaskSet(log)
        self._healthz: HealthzServer | None = None

    def _service_changed(self, old: Any, new: Any) -> None:
        if old.spec != new.spec:
            self.syncer.request(services=1)

    def _slice_changed(self, old: Any, new: Any) -> None:
        if old.endpoints != new.endpoints or old.ports != new.ports or old.metadata.labels != new.metadata.labels:
            self.syncer.request(endpoints=1)

    def render(self) -> Desired:
        ports = self.model.build(self.services.store.list(), self.slices.store.list())
        return self.mode.render(ports, self.opts)

    async def start(self) -> None:
        self.factory.start()
        await self.factory.wait_synced()
        await self.syncer.sync()  # the first sync happens before we report healthy
        self._tasks.spawn(self.syncer.run(), name="proxy-sync-loop")
        if self.cfg.healthz_address:
            self._healthz = HealthzServer(self.cfg.healthz_address, lambda: self.syncer.synced_at, self.syncer.healthy)
        log.info("proxy.started", mode=self.mode.name, table=self.opts.table)

    async def stop(self) -> None:
        await self._tasks.cancel_all()
        if self._healthz is not None:
            await asyncio.to_thread(self._healthz.close)  # waits for its serving thread to stop
        await self.factory.stop()

    async def cleanup(self) -> None:
        """Remove every rule this proxy made (its table) and nothing else."""
        await self.mode.remove(self.opts, self.prefix)
