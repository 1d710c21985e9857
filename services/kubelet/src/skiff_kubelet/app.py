"""Assembly of the kubelet: clients, node registration, informer, pod workers, gRPC service.

Start-up order matters: the Node is registered (and the runtime told its pod CIDR) before pods are
watched, so the scheduler never binds to a node that cannot run anything; the pod informer syncs
before the workers start, so housekeeping never mistakes an existing pod's sandbox for an orphan.
"""

from __future__ import annotations

import asyncio

from skiff.api.core.v1 import pod_pb2, service_pb2
from skiff.kubelet.v1 import kubelet_pb2_grpc
from skiff_client import ApiClient, CriClient, EventRecorder, InformerFactory
from skiff_common.grpcutil import add_listen, create_server
from skiff_common.observability import get_logger

from skiff_kubelet.authz import WEBHOOK, ApiAuthorizer, DecisionCache, WebhookAuthorizer
from skiff_kubelet.config import KubeletConfig, parse_duration
from skiff_kubelet.devices.manager import DeviceManager
from skiff_kubelet.dns import ClusterDNS, read_host_dns
from skiff_kubelet.eviction import thresholds
from skiff_kubelet.eviction.manager import EvictionManager
from skiff_kubelet.imagegc.manager import ImageGCManager
from skiff_kubelet.lease import NodeLease
from skiff_kubelet.lookup import ApiLookup
from skiff_kubelet.machine import allocatable, memory_bytes
from skiff_kubelet.node_status import NodeStatusManager
from skiff_kubelet.pleg import PodCache
from skiff_kubelet.pod_workers import PodWorkers
from skiff_kubelet.probes import ProbeManager
from skiff_kubelet.security import SecurityOptions, seccomp_dir
from skiff_kubelet.server import KubeletService
from skiff_kubelet.stats.auth import StatsAuth, TokenAuthenticator
from skiff_kubelet.stats.collector import StatsProvider
from skiff_kubelet.stats.http import StatsServer
from skiff_kubelet.sync import PodSyncer

log = get_logger(__name__)
REVIEW_TIMEOUT_S = 10.0  # a SubjectAccessReview that takes longer fails the call closed


class Kubelet:
    def __init__(
        self,
        cfg: KubeletConfig,
        *,
        api: ApiClient | None = None,
        cri_client: CriClient | None = None,
        host_ip: str = "127.0.0.1",
    ) -> None:
        self.cfg = cfg
        tls = cfg.tls()
        self.api = api or ApiClient.connect(cfg.apiserver, tls=tls, wait_for_ready=True)
        self.cri = cri_client or CriClient.connect(cfg.runtime_endpoint)
        host_ip = cfg.node_ip or host_ip  # --node-ip: a node with an address of its own (multi-node)
        self.host_ip = host_ip
        self.factory = InformerFactory(self.api)
        self.pods = self.factory.informer(pod_pb2.Pod, field_selector=f"spec.nodeName={cfg.node_name}")
        # Every Service, for the pods' service environment variables (enableServiceLinks).
        self.services = self.factory.informer(service_pb2.Service)
        self.events = EventRecorder(self.api, "kubelet", cfg.node_name)
        # Probe results enqueue the pod; the worker (created below) is the only status writer.
        self.probes = ProbeManager(self.cri, on_change=lambda key: self.workers.queue.add(key))
        self.syncer = PodSyncer(
            self.api,
            self.cri,
            self.events,
            ApiLookup(self.api),
            PodCache(),
            node_name=cfg.node_name,
            host_ip=host_ip,
            root_dir=cfg.root_dir,
            pod_log_dir=cfg.pod_log_dir,
            probes=self.probes,
            backoff_base=cfg.crash_loop_backoff_s,
            cgroup_root=cfg.cgroup_root,
            cluster_dns=ClusterDNS(
                tuple(cfg.cluster_dns_ips), cfg.cluster_domain.strip("."), read_host_dns(cfg.resolv_conf)
            ),
            services=self._services,
            hardening=SecurityOptions(
                cfg.seccomp_default, cfg.pod_max_pids, seccomp_dir(cfg.root_dir), max_pods=cfg.max_pods
            ),
        )
        self.workers = PodWorkers(
            self.pods,
            self.cri,
            self.syncer,
            relist_period=cfg.relist_period_s,
            sync_frequency=cfg.sync_frequency_s,
        )
        serving_tls = cfg.serving_tls()
        self.authorizer = self._authorizer()  # the gRPC API's and the stats port's
        self.server = create_server("kubelet", tls=serving_tls)
        kubelet_pb2_grpc.add_KubeletServicer_to_server(  # type: ignore[no-untyped-call]
            KubeletService(self.pods, self.cri, cfg.pod_log_dir, self.authorizer), self.server
        )
        self.port = add_listen(self.server, cfg.listen, serving_tls)
        self.node_status = NodeStatusManager(
            self.api,
            self.cri,
            node_name=cfg.node_name,
            pod_cidr=cfg.pod_cidr,
            kubelet_port=self.port,
            max_pods=cfg.max_pods,
            interval=cfg.status_interval_s,
            report_interval=cfg.status_report_frequency_s,
        )
        self.lease = NodeLease(self.api, cfg.node_name)
        self.node_status.host_ip = host_ip
        # /stats/summary, /metrics/resource, /metrics/cadvisor and /metrics on --metrics-address (stats/);
        self.stats = StatsProvider(
            self.cri, self.pods, node_name=cfg.node_name, cgroup_root=cfg.cgroup_root, root_dir=cfg.root_dir,
            pod_log_dir=cfg.pod_log_dir, memory_capacity=memory_bytes(),
        )  # fmt: skip
        # HTTPS with the serving certificate, callers authenticated and authorized (stats/auth.py).
        self.stats_server = StatsServer(
            self.stats, serving_tls, StatsAuth(self.authorizer, TokenAuthenticator(self._reviews_client()))
        )
        self.healthz_server = StatsServer(None, health_only=True)  # --healthz-address: plain, health only
        # Device plugins register on <root-dir>/device-plugins/kubelet.sock (devices/).
        self.devices = DeviceManager(f"{cfg.root_dir}/device-plugins", active_pods=self.pods.store.list)
        self.syncer.executor.devices = self.devices
        self.node_status.extended_resources = self.devices.capacity
        # Image GC by disk thresholds and age (imagegc/); the eviction manager reclaims with it first.
        self.image_gc = ImageGCManager(
            self.cri, self.events, cfg.image_gc_policy(), node_name=cfg.node_name,
            period=parse_duration(cfg.image_gc_period, "image-gc-period"),
        )  # fmt: skip
        # Node pressure, eviction and local storage limits from the same stats snapshots (eviction/).
        self.eviction = EvictionManager(
            self.api, self.events, self.stats, self.pods,
            thresholds.parse(cfg.eviction_hard, cfg.eviction_soft, cfg.eviction_soft_grace_period),
            interval=parse_duration(cfg.eviction_monitoring_interval, "eviction-monitoring-interval"),
            transition_period=parse_duration(cfg.eviction_pressure_transition_period, "pressure-transition-period"),
            image_gc=self.image_gc, root_dir=cfg.root_dir, pod_log_dir=cfg.pod_log_dir,
        )  # fmt: skip
        self.node_status.pressure_conditions = self.eviction.conditions
        self.node_status.ephemeral_storage = self.eviction.ephemeral_storage
        # A resourceFieldRef of a limit the container does not set reads the Node's allocatable (downward.py).
        self.syncer.executor.allocatable = lambda: {
            **allocatable(),
            "ephemeral-storage": str(self.eviction.ephemeral_storage()[1]),
        }
        self._tasks: list[asyncio.Task[None]] = []

    def _authorizer(self) -> ApiAuthorizer:
        """--authorization-mode: Webhook asks the apiserver (as this node) about each caller (authz.py)."""
        cfg = self.cfg
        log.info("kubelet.authorization", mode=cfg.authorization_mode)  # the config line redacts "authorization*"
        if cfg.authorization_mode != WEBHOOK:
            return ApiAuthorizer(cfg.authorization_mode, cfg.node_name)
        cache = DecisionCache(
            parse_duration(
                cfg.authorization_webhook_cache_authorized_ttl, "authorization-webhook-cache-authorized-ttl"
            ),
            parse_duration(
                cfg.authorization_webhook_cache_unauthorized_ttl, "authorization-webhook-cache-unauthorized-ttl"
            ),
        )
        # The kubelet's own channel, but failing fast: an exec must not wait out an apiserver restart
        # (the kubelet's other calls do); it is refused at once, and asks again next time. Never closed
        # itself: the channel is self.api's.
        return ApiAuthorizer(WEBHOOK, cfg.node_name, WebhookAuthorizer(self._reviews_client(), cache))

    def _reviews_client(self) -> ApiClient:
        """For access and token reviews: the kubelet's own channel, failing fast."""
        return ApiClient(self.api.channel, timeout=REVIEW_TIMEOUT_S, wait_for_ready=False)

    def _services(self) -> list[service_pb2.Service] | None:
        return self.services.store.list() if self.services.has_synced() else None

    async def start(self) -> None:
        await self.server.start()
        if self.cfg.metrics_address:
            await self.stats_server.start(self.cfg.metrics_address)
        if self.cfg.healthz_address:
            await self.healthz_server.start(self.cfg.healthz_address)
        await self.devices.start()  # allocations from the checkpoint are back before any pod syncs
        await self._register_with_retry()
        self.syncer.runtime_name = self.node_status.runtime_name or self.syncer.runtime_name
        self.factory.start()
        self._tasks = [
            asyncio.create_task(self.node_status.run(), name="node-status"),
            asyncio.create_task(self.lease.run(), name="node-lease"),
            asyncio.create_task(self.workers.run(), name="pod-workers"),
            asyncio.create_task(self.eviction.run(), name="eviction-manager"),
            asyncio.create_task(self.image_gc.run(), name="image-gc"),
        ]
        log.info("kubelet.started", node=self.cfg.node_name, port=self.port)

    async def _register_with_retry(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.node_status.register()
                return
            except Exception as exc:
                log.warning("node.register_retry", error=str(exc), delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def stop(self) -> None:
        # Pods keep running: a kubelet restart must not take workloads down (they are adopted later).
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.probes.stop()
        await self.factory.stop()
        await self.events.flush()
        await self.server.stop(1)
        await self.stats_server.stop()
        await self.healthz_server.stop()
        await self.devices.stop()
        await self.cri.close()
        await self.api.close()
