"""Node registration and status.

The kubelet owns its Node's *status*; the spec belongs to users and the control plane except for
``podCIDR``, which the kubelet fills in at registration if nobody else did (Skiff has no IPAM
controller), and the registration taint below. Ready mirrors the runtime: if the CRI ``Status`` says
RuntimeReady or NetworkReady is false (or the runtime is unreachable) the node goes Ready=False with the
reason, and the node lifecycle controller taints it not-ready.

Registration creates the Node with its status already filled in and the
``node.kubernetes.io/not-ready:NoSchedule`` taint, so nothing is scheduled here before the node lifecycle
controller has seen Ready=True and removed the taint. (Kubernetes adds that taint in the apiserver's
TaintNodesByCondition admission plugin, on every Node create; Skiff's kubelet asks for it itself, like
``--register-with-taints``, so a Node that tests create by hand stays untainted.) An existing Node is
adopted as it is.

Liveness is the Lease (lease.py). The status is computed every ``interval`` (10 s) but written only when
it changed -- heartbeat times aside -- or when ``report_interval`` (Kubernetes'
nodeStatusReportFrequency, 5 min) has passed since the last write, as the kubelet does since NodeLease.
Each check re-reads the Node and compares against what the apiserver holds, so a status the node
lifecycle controller turned Unknown is put right on the next check.

Until the runtime is ready for the first time, the runtime is checked every FAST_PERIOD and the status
written as soon as it is (the kubelet's fastStatusUpdateOnce): a node whose kubelet starts beside its
runtime (a joining node) is Ready when the runtime is, not a status interval later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf import timestamp_pb2
from skiff.api.core.v1 import node_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import ApiClient, CriClient
from skiff_client.cri import call
from skiff_client.events import now_timestamp
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_kubelet import machine

log = get_logger(__name__)

KUBELET_VERSION = "v1.31.0-skiff"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
# Until the runtime is first ready, how often it is checked (the kubelet's fastStatusUpdateOnce: 100 ms).
FAST_PERIOD = 0.2


def _without_heartbeats(status: node_pb2.NodeStatus) -> bytes:
    copy = node_pb2.NodeStatus()
    copy.CopyFrom(status)
    for cond in copy.conditions:
        cond.ClearField("last_heartbeat_time")
    return copy.SerializeToString(deterministic=True)


@dataclass(frozen=True)
class RuntimeHealth:
    ready: bool
    reason: str = ""
    message: str = ""


async def runtime_health(cri_client: CriClient) -> RuntimeHealth:
    try:
        resp = await call(cri_client.runtime.Status(cri.StatusRequest(), timeout=5))
    except Exception as exc:
        return RuntimeHealth(False, "RuntimeUnreachable", f"container runtime is down: {exc}")
    for cond in resp.status.conditions:
        if cond.type in ("RuntimeReady", "NetworkReady") and not cond.status:
            return RuntimeHealth(
                False,
                cond.reason or f"{cond.type}False",
                f"container runtime {cond.type}=false: {cond.message}",
            )
    return RuntimeHealth(True)


def _set_condition(
    conds: list[meta_pb2.Condition],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: timestamp_pb2.Timestamp,
) -> None:
    for cond in conds:
        if cond.type == type_:
            if cond.status != status:
                cond.last_transition_time.CopyFrom(now)
            cond.status, cond.reason, cond.message = status, reason, message
            cond.last_heartbeat_time.CopyFrom(now)
            return
    conds.append(
        meta_pb2.Condition(
            type=type_,
            status=status,
            reason=reason,
            message=message,
            last_heartbeat_time=now,
            last_transition_time=now,
        )
    )


class NodeStatusManager:
    def __init__(
        self,
        api: ApiClient,
        cri_client: CriClient,
        *,
        node_name: str,
        pod_cidr: str,
        kubelet_port: int,
        max_pods: int,
        interval: float,
        report_interval: float = 300.0,
    ) -> None:
        self.api = api
        self.cri = cri_client
        self.node_name = node_name
        self.pod_cidr = pod_cidr
        self.kubelet_port = kubelet_port
        self.max_pods = max_pods
        self.interval = interval
        self.report_interval = report_interval
        self._last_report: float | None = None  # monotonic time of the last status write
        self.runtime_version = ""
        self.runtime_name = ""
        self.host_ip = "127.0.0.1"
        # Extended resources from device plugins: name -> (capacity, allocatable) (devices/manager.py).
        self.extended_resources: Callable[[], dict[str, tuple[int, int]]] | None = None
        # MemoryPressure / DiskPressure / PIDPressure: type -> (status, reason, message) (eviction/).
        self.pressure_conditions: Callable[[], dict[str, tuple[str, str, str]]] | None = None
        # ephemeral-storage (capacity, allocatable) bytes (eviction/manager.py).
        self.ephemeral_storage: Callable[[], tuple[int, int]] | None = None

    def _fill_status(self, node: node_pb2.Node, health: RuntimeHealth) -> None:
        st = node.status
        cap = {
            "cpu": str(machine.cpu_count()),
            "memory": f"{machine.memory_bytes() // 1024}Ki",
            "pods": str(self.max_pods),
        }
        for k, v in cap.items():
            st.capacity[k].value = v
            st.allocatable[k].value = v
        # ephemeral-storage: the kubelet's filesystem, less the nodefs hard eviction threshold (eviction/).
        storage = self.ephemeral_storage() if self.ephemeral_storage else (0, 0)
        st.capacity["ephemeral-storage"].value = f"{storage[0] // 1024}Ki"
        st.allocatable["ephemeral-storage"].value = str(storage[1])
        for name, (capacity, allocatable) in (self.extended_resources() if self.extended_resources else {}).items():
            st.capacity[name].value, st.allocatable[name].value = str(capacity), str(allocatable)
        del st.addresses[:]
        st.addresses.add(type="InternalIP", address=self.host_ip)
        st.addresses.add(type="Hostname", address=self.node_name)
        st.daemon_endpoints.kubelet_endpoint.port = self.kubelet_port
        info = machine.system_info()
        for k, v in info.items():
            setattr(st.node_info, k, v)
        st.node_info.container_runtime_version = self.runtime_version
        st.node_info.kubelet_version = KUBELET_VERSION
        now = now_timestamp()
        conds = list(st.conditions)
        if health.ready:
            _set_condition(conds, "Ready", "True", "KubeletReady", "kubelet is posting ready status", now)
        else:
            _set_condition(conds, "Ready", "False", health.reason, health.message, now)
        pressures = self.pressure_conditions() if self.pressure_conditions else {}
        for pressure in ("MemoryPressure", "DiskPressure", "PIDPressure"):
            status, reason, message = pressures.get(pressure, ("False", f"KubeletHasNo{pressure}", f"no {pressure}"))
            _set_condition(conds, pressure, status, reason, message, now)
        del st.conditions[:]
        st.conditions.extend(conds)

    async def register(self) -> node_pb2.Node:
        """Create the Node, or adopt an existing one; returns it (with the effective podCIDR)."""
        try:
            v = await call(self.cri.runtime.Version(cri.VersionRequest(version="v1"), timeout=10))
            self.runtime_name = v.runtime_name
            self.runtime_version = f"{v.runtime_name}://{v.runtime_version}"
        except errors.SkiffError as exc:
            log.warning("runtime.version_failed", error=str(exc))
        node = node_pb2.Node(
            api_version="v1",
            kind="Node",
            metadata=meta_pb2.ObjectMeta(
                name=self.node_name,
                labels={
                    "kubernetes.io/hostname": self.node_name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": machine.system_info()["architecture"],
                },
            ),
        )
        node.spec.pod_cidr = self.pod_cidr
        node.spec.pod_cidrs.append(self.pod_cidr)
        node.spec.taints.add(key=NOT_READY_TAINT, effect="NoSchedule")
        self._fill_status(node, await runtime_health(self.cri))
        try:
            created = await self.api.create(node)
            log.info("node.registered", node=self.node_name)
        except errors.AlreadyExists:
            created = await self.api.get(node_pb2.Node, self.node_name)
            if not created.spec.pod_cidr:
                created.spec.pod_cidr = self.pod_cidr
                created.spec.pod_cidrs.append(self.pod_cidr)
                created = await self.api.update(created)
            log.info("node.adopted", node=self.node_name)
        self.pod_cidr = created.spec.pod_cidr or self.pod_cidr
        await self._tell_runtime_cidr()
        return await self.heartbeat(force=True)

    async def _tell_runtime_cidr(self) -> None:
        req = cri.UpdateRuntimeConfigRequest(
            runtime_config=cri.RuntimeConfig(network_config=cri.NetworkConfig(pod_cidr=self.pod_cidr))
        )
        try:
            await call(self.cri.runtime.UpdateRuntimeConfig(req, timeout=10))
        except errors.SkiffError as exc:
            log.warning("runtime.update_config_failed", error=str(exc))

    async def heartbeat(self, *, force: bool = False) -> node_pb2.Node:
        """Compute the status; write it if it changed, the report interval passed, or `force`."""
        health = await runtime_health(self.cri)
        images = await self._images() if health.ready else None
        loop = asyncio.get_running_loop()
        for _attempt in range(3):
            node = await self.api.get(node_pb2.Node, self.node_name)
            before = _without_heartbeats(node.status)
            self._fill_status(node, health)
            if images is not None:
                del node.status.images[:]
                node.status.images.extend(images)
            due = self._last_report is None or loop.time() - self._last_report >= self.report_interval
            if not force and not due and _without_heartbeats(node.status) == before:
                return node
            try:
                updated = await self.api.update_status(node)
            except errors.Conflict:
                continue
            self._last_report = loop.time()
            return updated
        raise errors.Conflict(f"node {self.node_name}: status update kept conflicting")

    async def _images(self) -> list[node_pb2.ContainerImage] | None:
        """Images on the node, largest first and at most 50 (like the kubelet's nodeStatusMaxImages)."""
        try:
            resp = await call(self.cri.images.ListImages(cri.ListImagesRequest(), timeout=5))
        except errors.SkiffError:
            return None  # keep whatever the Node says
        items = sorted(resp.images, key=lambda i: i.size, reverse=True)[:50]
        return [
            node_pb2.ContainerImage(names=list(i.repo_tags) + list(i.repo_digests), size_bytes=i.size) for i in items
        ]

    async def until_runtime_ready(self, limit: float = 120.0) -> None:
        """fastStatusUpdateOnce: check the runtime often until it is ready, then write the status."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            if (await runtime_health(self.cri)).ready:
                await self.heartbeat()
                return
            await asyncio.sleep(FAST_PERIOD)

    async def run(self) -> None:
        """Heartbeat forever; a failed beat is logged and retried on the next tick."""
        try:
            await self.until_runtime_ready(limit=max(self.interval * 6, 60.0))
        except Exception as exc:
            log.warning("node.fast_status_failed", error=str(exc))
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.heartbeat()
            except errors.NotFound:
                log.warning("node.missing_reregistering", node=self.node_name)
                try:
                    await self.register()
                except Exception as exc:
                    log.warning("node.register_failed", error=str(exc))
            except Exception as exc:
                log.warning("node.heartbeat_failed", error=str(exc))
