"""The apiserver process without its main(): start (etcd client, one watch cache per kind, system
namespaces, gRPC server) and stop. Tests run it in-process on 127.0.0.1:0.

Emptying a deleted namespace is not done here: the controllers' namespace controller owns it, as
kube-controller-manager does in Kubernetes; the apiserver keeps NamespaceLifecycle admission."""

from __future__ import annotations

import asyncio

import grpc
from skiff.api.core.v1 import namespace_pb2
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig, add_listen, create_server
from skiff_common.tasks import TaskSet

from skiff_apiserver.admission.limitranger import LimitRanger
from skiff_apiserver.admission.limits import Limits
from skiff_apiserver.admission.noderestriction import NodeRestriction
from skiff_apiserver.admission.podsecurity.admit import PodSecurity, defaults_from
from skiff_apiserver.admission.priority import PriorityAdmission
from skiff_apiserver.admission.resourcequota import ResourceQuotaAdmission
from skiff_apiserver.admission.serviceaccount import ServiceAccountAdmission
from skiff_apiserver.advertise import freebind_socket, needs_own_listener
from skiff_apiserver.audit.log import AuditLog
from skiff_apiserver.audit.policy import METADATA_EVERYTHING
from skiff_apiserver.audit.policy import load as load_audit_policy
from skiff_apiserver.auth.gate import Gate, parse_modes
from skiff_apiserver.auth.rbac.escalation import EscalationCheck
from skiff_apiserver.auth.rbac.reconcile import reconcile as reconcile_rbac
from skiff_apiserver.auth.tokens import TokenIssuer
from skiff_apiserver.config import ApiServerConfig
from skiff_apiserver.encryption.config import load as load_encryption
from skiff_apiserver.encryption.transformer import Transformer
from skiff_apiserver.logs import log
from skiff_apiserver.machinery import kinds
from skiff_apiserver.readiness import MetricsPortReadiness
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.registry.bootstrap import ensure_kubernetes_service
from skiff_apiserver.registry.endpointreconciler import LeaseEndpointReconciler, check_endpoint_reconciler_flags
from skiff_apiserver.registry.lifecycle import NamespaceLifecycle
from skiff_apiserver.registry.masterleases import Master, MasterLeases
from skiff_apiserver.registry.service_repair import ServiceAllocationRepair
from skiff_apiserver.registry.store import Admission, Store, ValidatingAdmission
from skiff_apiserver.registry.strategies.namespace import SYSTEM_NAMESPACES
from skiff_apiserver.registry.strategies.service import ServiceStrategy
from skiff_apiserver.rest import aggregator
from skiff_apiserver.rest.server import RestApi
from skiff_apiserver.server.service import ApiServerService, register
from skiff_apiserver.storage.etcd import EtcdClient
from skiff_apiserver.storage.watch_cache import WatchCache


def _tls_files(ca: str | None, cert: str | None, key: str | None, flags: str, why: str) -> TLSConfig | None:
    given = [ca, cert, key]
    if not any(given):
        return None
    if not all(given):
        raise ValueError(f"{flags} must be given together ({why})")
    return TLSConfig(ca_file=ca or "", cert_file=cert or "", key_file=key or "")


def tls_config(cfg: ApiServerConfig) -> TLSConfig | None:
    return _tls_files(
        cfg.client_ca_file,
        cfg.tls_cert_file,
        cfg.tls_key_file,
        "--tls-cert-file, --tls-key-file and --client-ca-file",
        "the apiserver only speaks mutual TLS",
    )


def etcd_tls_config(cfg: ApiServerConfig) -> TLSConfig | None:
    return _tls_files(
        cfg.etcd_cafile,
        cfg.etcd_certfile,
        cfg.etcd_keyfile,
        "--etcd-cafile, --etcd-certfile and --etcd-keyfile",
        "etcd is spoken to over mutual TLS or not at all",
    )


def kubelet_tls_config(cfg: ApiServerConfig) -> TLSConfig | None:
    """The client certificate for dialling kubelets, trusting the cluster CA (--client-ca-file)."""
    if not cfg.kubelet_client_certificate and not cfg.kubelet_client_key:
        return None
    return _tls_files(
        cfg.client_ca_file,
        cfg.kubelet_client_certificate,
        cfg.kubelet_client_key,
        "--kubelet-client-certificate, --kubelet-client-key and --client-ca-file",
        "kubelets are dialled over mutual TLS",
    )


class ApiServerApp:
    def __init__(self, cfg: ApiServerConfig) -> None:
        self.cfg = cfg
        self.client: EtcdClient | None = None
        self.caches: dict[str, WatchCache] = {}
        self.registry: Registry | None = None
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self.tasks = TaskSet()
        self.repair: ServiceAllocationRepair | None = None
        self.rest: RestApi | None = None  # the Kubernetes REST API, when --secure-port >= 0
        self.rest_port = 0
        self.gate: Gate | None = None
        self.audit: AuditLog | None = None
        self.readiness: MetricsPortReadiness | None = None  # /readyz's checks on the metrics port
        self.endpoints: LeaseEndpointReconciler | None = None  # the `kubernetes` Service's endpoints
        self._endpoints_task: asyncio.Task[None] | None = None

    async def start(self, *, serve: bool = True) -> int:
        """Start everything; with serve=False the gRPC server is built and bound but not started (the
        caller starts it, e.g. skiff_common's serve_until_signal). Returns the bound port."""
        cfg = self.cfg
        check_endpoint_reconciler_flags(
            cfg.endpoint_reconciler_type, cfg.endpoint_reconciler_ttl, cfg.endpoint_reconciler_interval
        )
        self.client = EtcdClient(cfg.etcd_endpoints, timeout=cfg.etcd_timeout, tls=etcd_tls_config(cfg))
        if cfg.encryption_provider_config:
            self.client.transformer = Transformer(cfg.etcd_prefix, load_encryption(cfg.encryption_provider_config))
        self.readiness = MetricsPortReadiness(self.client)
        self.readiness.install()
        await self._wait_for_etcd()
        self.readiness.saw_etcd()
        self.tasks.spawn(self.readiness.run(), name="etcd-readiness")
        self.caches = {
            i.resource: WatchCache(
                self.client, i, cfg.etcd_prefix, cfg.watch_cache_size, bookmark_interval=cfg.bookmark_interval
            )
            for i in kinds.ALL_KINDS
        }
        await asyncio.gather(*(c.start() for c in self.caches.values()))
        tls = tls_config(cfg)
        if cfg.audit_log_path:
            policy = load_audit_policy(cfg.audit_policy_file) if cfg.audit_policy_file else METADATA_EVERYTHING
            self.audit = AuditLog(
                cfg.audit_log_path, policy, max_size_mb=cfg.audit_log_maxsize, max_backups=cfg.audit_log_maxbackup
            )
        tokens = TokenIssuer(
            self.caches, cfg.etcd_prefix, key_file=cfg.service_account_signing_key_file,
            issuer=cfg.service_account_issuer, audiences=tuple(cfg.api_audiences),
        )  # fmt: skip
        modes = parse_modes(cfg.authorization_mode)
        self.gate = gate = Gate(modes, self.caches, secure=tls is not None, tokens=tokens)
        admission: list[Admission] = [
            NamespaceLifecycle(self.client, cfg.etcd_prefix, self.caches),
            PriorityAdmission(self.client, cfg.etcd_prefix, self.caches),  # mutating: before the validators
        ]
        if "LimitRanger" not in cfg.disable_admission_plugins:  # mutating (defaults), then its bounds
            admission.insert(1, LimitRanger(self.caches))
        validating: list[ValidatingAdmission] = []
        if "ResourceQuota" not in cfg.disable_admission_plugins:  # last, right before the write
            validating.append(ResourceQuotaAdmission(self.client, cfg.etcd_prefix, self.caches))
        if "ServiceAccount" not in cfg.disable_admission_plugins:  # mutating too
            admission.append(ServiceAccountAdmission(self.client, cfg.etcd_prefix, self.caches))
        if gate.rbac is not None:
            admission.append(EscalationCheck(gate.chain, gate.rbac))
        if "Node" in gate.modes:
            admission.append(NodeRestriction())
        admission.append(
            PodSecurity(
                self.caches,
                cfg.etcd_prefix,
                defaults_from(
                    cfg.pod_security_default_enforce, cfg.pod_security_default_audit, cfg.pod_security_default_warn,
                    cfg.pod_security_exempt_usernames, cfg.pod_security_exempt_namespaces,
                ),
            )
        )  # fmt: skip
        self.registry = Registry(
            Store(
                self.client,
                cfg.etcd_prefix,
                self.caches,
                event_ttl=cfg.event_ttl,
                service_cidr=cfg.service_cluster_ip_range,
                node_port_range=cfg.service_node_port_range,
                admission=admission,
                validating=validating,
            )
        )
        await self._ensure_namespaces()
        await reconcile_rbac(self.registry)
        self.server = create_server(
            "apiserver",
            tls=tls,
            max_message_bytes=cfg.max_message_bytes,
            options=[("grpc.so_reuseport", 1)] if cfg.reuse_port else [],
        )
        limits = Limits(cfg.max_inflight, cfg.client_qps, cfg.client_burst)
        service = ApiServerService(
            self.registry,
            limits,
            watch_queue_size=cfg.watch_queue_size,
            bookmark_interval=cfg.bookmark_interval,
            gate=gate,
        )
        service.audit = self.audit
        register(service, self.server)
        self.port = add_listen(self.server, cfg.listen, tls)
        if cfg.advertise_grpc and needs_own_listener(cfg.listen.rpartition(":")[0], cfg.advertise_address):
            add_listen(self.server, f"{cfg.advertise_address}:{self.port}", tls)  # other nodes dial here
        services = self.registry.store.strategies["services"]
        assert isinstance(services, ServiceStrategy)
        self.repair = ServiceAllocationRepair(self.client, cfg.etcd_prefix, services.allocations)
        self.tasks.spawn(self.repair.run(), name="service-allocation-repair")
        if serve:
            await self.server.start()
        if cfg.secure_port >= 0:  # same registry and limits, Kubernetes' paths and JSON
            self.rest = RestApi(
                self.registry,
                limits,
                tls=tls,
                watch_queue_size=cfg.watch_queue_size,
                kubelet_tls=kubelet_tls_config(cfg),
                gate=gate,
                audit=self.audit,
            )
            if cfg.aggregated_apis:  # e.g. metrics.k8s.io from skiff-metrics (rest/aggregator.py)
                # Dialled with a client certificate (kube-apiserver's --proxy-client-cert-file role; the
                # kubelet-client one here): the serving certificate carries serverAuth only.
                aggregator.install(self.rest.app, cfg.aggregated_apis, kubelet_tls_config(cfg) or tls, gate)
            host = cfg.listen.rpartition(":")[0] or "127.0.0.1"
            self.rest_port = await self.rest.start(f"{host}:{cfg.secure_port}", reuse_port=cfg.reuse_port)
            if needs_own_listener(host, cfg.advertise_address):  # pods reach the API there (advertise.py)
                sock = freebind_socket(cfg.advertise_address, self.rest_port, reuse_port=cfg.reuse_port)
                await self.rest.serve_socket(sock)
        # The `kubernetes` Service leads to the Kubernetes API (REST) where it is served, as in Kubernetes.
        api_port = self.rest_port if self.rest is not None else self.port
        await ensure_kubernetes_service(self.registry, cfg.service_cluster_ip_range, api_port)
        await self._start_endpoint_reconciler(api_port)
        self.readiness.started = True
        log.info("apiserver_started", port=self.port, rest_port=self.rest_port, etcd=cfg.etcd_endpoints)
        return self.port

    async def _start_endpoint_reconciler(self, api_port: int) -> None:
        """Join the `kubernetes` Service's endpoints (endpointreconciler.py): a first pass now, so the
        apiserver is listed once it reports started, then one pass every interval."""
        cfg = self.cfg
        if cfg.endpoint_reconciler_type != "lease" or not cfg.service_cluster_ip_range:
            return
        assert self.registry is not None and self.client is not None
        leases = MasterLeases(self.client, cfg.etcd_prefix, cfg.endpoint_reconciler_ttl)
        me = Master(cfg.advertise_address.strip("[]"), api_port)
        self.endpoints = LeaseEndpointReconciler(self.registry, leases, me, interval=cfg.endpoint_reconciler_interval)
        try:
            await self.endpoints.reconcile()
        except errors.SkiffError as exc:  # etcd trouble: the loop retries, serving goes on
            log.warning("kubernetes_endpoints_reconcile_failed", master=str(me), error=str(exc))
        self._endpoints_task = self.tasks.spawn(self.endpoints.run(), name="kubernetes-endpoints")

    async def _stop_endpoint_reconciler(self) -> None:
        """RemoveEndpoints before the REST API (what pods reach through the Service) stops, so clients
        move on while it still answers; bounded, so an unreachable etcd cannot hold up the shutdown (the
        lease then expires on its own)."""
        if self._endpoints_task is not None:
            self._endpoints_task.cancel()
            await asyncio.gather(self._endpoints_task, return_exceptions=True)
        if self.endpoints is None:
            return
        try:
            await asyncio.wait_for(self.endpoints.stop(), timeout=max(self.cfg.etcd_timeout, 1.0))
        except (errors.SkiffError, TimeoutError) as exc:
            log.warning("kubernetes_endpoints_remove_failed", master=str(self.endpoints.me), error=str(exc))

    async def _wait_for_etcd(self) -> None:
        """etcd may still be starting (e.g. under `skiff up`): wait for it rather than exit."""
        assert self.client is not None
        delay = 0.2
        while True:
            try:
                await self.client.current_revision()
                return
            except errors.SkiffError as exc:
                log.warning("etcd_not_ready_retrying", endpoints=self.cfg.etcd_endpoints, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _ensure_namespaces(self) -> None:
        assert self.registry is not None
        for name in SYSTEM_NAMESPACES:
            ns = namespace_pb2.Namespace()
            ns.metadata.name = name
            try:
                await self.registry.create(ns)
            except errors.AlreadyExists:
                pass

    async def stop(self, grace: float = 1.0) -> None:
        if self.readiness is not None:
            self.readiness.uninstall()
        await self._stop_endpoint_reconciler()
        if self.rest is not None:
            await self.rest.stop()
        if self.server is not None:
            await self.server.stop(grace)
        await self.tasks.cancel_all()
        await asyncio.gather(*(c.stop() for c in self.caches.values()), return_exceptions=True)
        if self.client is not None:
            await self.client.close()
        if self.audit is not None:
            self.audit.close()
