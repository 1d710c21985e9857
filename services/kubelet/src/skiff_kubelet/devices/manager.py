"""The device manager: Registration on `<root-dir>/device-plugins/kubelet.sock`, devices per extended
resource, allocation to containers, and freeing when pods end (Kubernetes' devicemanager, in small).

    plugin ── Register(version v1beta1, endpoint, resource_name, options) ──> Registration (this module)
    kubelet ── ListAndWatch ──> plugin: device list + health     -> capacity (all) / allocatable (healthy)
    container create ── allocate(pod, container): reuse its allocation, else pick free healthy devices
                        (GetPreferredAllocation when offered), Allocate -> envs, mounts, devices,
                        annotations; PreStartContainer when required; checkpointed
    every few seconds ── devices of pods no longer active (gone, Succeeded, Failed) are freed

One device goes to one container at a time; a container asking for more devices than are free gets an
`AllocationError` with Kubernetes' text. Plugins re-register when the kubelet restarts because they watch
kubelet.sock (it is recreated on start), as Kubernetes' plugins do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.deviceplugin.v1beta1 import api_pb2 as dp
from skiff.deviceplugin.v1beta1 import api_pb2_grpc as dp_grpc
from skiff_common.apimachinery.quantity import int_value
from skiff_common.observability import get_logger

from skiff_kubelet.devices import checkpoint
from skiff_kubelet.devices.checkpoint import Allocation
from skiff_kubelet.devices.endpoint import Endpoint

log = get_logger("skiff_kubelet.devices")
SUPPORTED_VERSIONS = ("v1beta1",)
KUBELET_SOCKET = "kubelet.sock"
STOP_GRACE = 300.0  # seconds a stopped plugin's devices stay in capacity (endpointStopGracePeriod)


class AllocationError(Exception):
    pass


def is_extended_resource(name: str) -> bool:
    """Kubernetes' IsExtendedResourceName: a qualified name outside kubernetes.io, not a requests. quota."""
    domain, slash, rest = name.partition("/")
    if not slash or not domain or not rest or name.startswith("requests."):
        return False
    return not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))


class DeviceManager(dp_grpc.RegistrationServicer):
    def __init__(self, folder: str, active_pods: Callable[[], list[pod_pb2.Pod]] = list) -> None:
        self.folder = Path(folder)
        self.active_pods = active_pods
        self.endpoints: dict[str, Endpoint] = {}
        self.healthy: dict[str, set[str]] = {}
        self.unhealthy: dict[str, set[str]] = {}
        self.stopped_at: dict[str, float] = {}
        self.allocations: list[Allocation] = []
        self._lock = asyncio.Lock()
        self._server: grpc.aio.Server | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._gc: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        saved = checkpoint.load(self.folder)
        self.allocations = saved.allocations
        for resource in saved.registered:  # zero capacity until the plugin registers again
            self.healthy.setdefault(resource, set())
            self.unhealthy.setdefault(resource, set())
            self.stopped_at.setdefault(resource, time.monotonic())
        socket = self.folder / KUBELET_SOCKET
        with contextlib.suppress(FileNotFoundError):
            socket.unlink()
        if len(str(socket)) >= 108:  # sun_path: a longer path cannot be bound (deep test folders)
            log.error("device_manager.socket_path_too_long", socket=str(socket))
            return
        self._server = grpc.aio.server()
        dp_grpc.add_RegistrationServicer_to_server(self, self._server)  # type: ignore[no-untyped-call]
        self._server.add_insecure_port(f"unix://{socket}")
        await self._server.start()
        os.chmod(socket, 0o600)
        self._gc = asyncio.create_task(self._free_loop(), name="device-manager-gc")
        log.info("device_manager.started", socket=str(socket), allocations=len(self.allocations))

    async def stop(self) -> None:
        for task in [*self._tasks.values(), *([self._gc] if self._gc else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks.values(), *([self._gc] if self._gc else []), return_exceptions=True)
        for e in self.endpoints.values():
            await e.close()
        if self._server is not None:
            await self._server.stop(0)

    # -- Registration --------------------------------------------------------------------------------

    async def Register(self, request: dp.RegisterRequest, context: Any) -> dp.Empty:
        if request.version not in SUPPORTED_VERSIONS:
            supported = list(SUPPORTED_VERSIONS)
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"invalid version {request.version!r}, supported versions: {supported}",
            )
        if not is_extended_resource(request.resource_name):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid resource name: {request.resource_name!r}")
        if not request.endpoint or "/" in request.endpoint:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid endpoint: {request.endpoint!r}")
        resource = request.resource_name
        old, old_task = self.endpoints.pop(resource, None), self._tasks.pop(resource, None)
        if old_task is not None:
            old_task.cancel()
        if old is not None:
            await old.close()
        endpoint = Endpoint(resource, str(self.folder / request.endpoint), request.options)
        self.endpoints[resource] = endpoint
        self.stopped_at.pop(resource, None)
        self._tasks[resource] = asyncio.create_task(
            endpoint.watch(lambda devices: self._update(resource, devices), lambda: self._stopped(resource, endpoint)),
            name=f"device-plugin-{resource}",
        )
        log.info("device_plugin.registered", resource=resource, endpoint=request.endpoint)
        return dp.Empty()

    def _update(self, resource: str, devices: list[dp.Device]) -> None:
        self.healthy[resource] = {d.ID for d in devices if d.health == "Healthy"}
        self.unhealthy[resource] = {d.ID for d in devices if d.health != "Healthy"}
        self._save()

    def _stopped(self, resource: str, endpoint: Endpoint) -> None:
        if self.endpoints.get(resource) is endpoint:
            self.stopped_at[resource] = time.monotonic()

    # -- capacity ------------------------------------------------------------------------------------

    def capacity(self) -> dict[str, tuple[int, int]]:
        """resource -> (capacity: every device, allocatable: healthy ones of a live plugin); a plugin
        stopped longer than the grace period reports zero."""
        out = {}
        now = time.monotonic()
        for resource in sorted(set(self.healthy) | set(self.unhealthy)):
            healthy, unhealthy = self.healthy.get(resource, set()), self.unhealthy.get(resource, set())
            stopped = self.stopped_at.get(resource)
            if stopped is not None and now - stopped > STOP_GRACE:
                out[resource] = (0, 0)
            elif stopped is not None:
                out[resource] = (len(healthy) + len(unhealthy), 0)
            else:
                out[resource] = (len(healthy) + len(unhealthy), len(healthy))
        return out

    # -- allocation ----------------------------------------------------------------------------------

    def _in_use(self, resource: str) -> set[str]:
        return {d for a in self.allocations if a.resource == resource for d in a.device_ids}

    def _requested(self, c: container_pb2.Container) -> dict[str, int]:
        out = {}
        for source in (c.resources.requests, c.resources.limits):
            for name, q in source.items():
                if name in self.healthy or name in self.endpoints:
                    out[name] = int_value(q.value)
        return {k: v for k, v in out.items() if v > 0}

    async def allocate(self, pod: pod_pb2.Pod, c: container_pb2.Container) -> list[dp.ContainerAllocateResponse]:
        """The plugins' answers for this container, allocating devices on first use."""
        responses = []
        async with self._lock:
            self._free_inactive()
            for resource, count in sorted(self._requested(c).items()):
                found = next(
                    (a for a in self.allocations
                     if (a.pod_uid, a.container, a.resource) == (pod.metadata.uid, c.name, resource)),
                    None,
                )  # fmt: skip
                if found is None:
                    found = await self._allocate(pod, c, resource, count)
                    self.allocations.append(found)
                    self._save()
                endpoint = self.endpoints.get(resource)
                if endpoint is not None and endpoint.options.pre_start_required:
                    await endpoint.pre_start(found.device_ids)
                responses.append(found.response)
        return responses

    async def _allocate(self, pod: pod_pb2.Pod, c: container_pb2.Container, resource: str, count: int) -> Allocation:
        endpoint = self.endpoints.get(resource)
        free = sorted(self.healthy.get(resource, set()) - self._in_use(resource))
        if endpoint is None or endpoint.stopped:
            raise AllocationError(f"cannot allocate unregistered device {resource}")
        if len(free) < count:
            raise AllocationError(
                f"requested number of devices unavailable for {resource}. Requested: {count}, Available: {len(free)}"
            )
        chosen = free[:count]
        if endpoint.options.get_preferred_allocation_available:
            preferred = await endpoint.preferred(free, [], count)
            if len(preferred) == count and set(preferred) <= set(free):
                chosen = preferred
        response = await endpoint.allocate(chosen)
        log.info("devices.allocated", pod=f"{pod.metadata.namespace}/{pod.metadata.name}", container=c.name,
                 resource=resource, devices=chosen)  # fmt: skip
        return Allocation(pod.metadata.uid, c.name, resource, chosen, response)

    def _free_inactive(self) -> None:
        active = {p.metadata.uid for p in self.active_pods() if p.status.phase not in ("Succeeded", "Failed")}
        kept = [a for a in self.allocations if a.pod_uid in active]
        if len(kept) != len(self.allocations):
            freed = [a for a in self.allocations if a.pod_uid not in active]
            log.info("devices.freed", devices={a.resource: a.device_ids for a in freed})
            self.allocations = kept
            self._save()

    async def _free_loop(self, period: float = 2.0) -> None:
        while True:
            await asyncio.sleep(period)
            async with self._lock:
                self._free_inactive()

    def _save(self) -> None:
        registered = {r: sorted(self.healthy.get(r, set()) | self.unhealthy.get(r, set())) for r in self.healthy}
        checkpoint.save(self.folder, checkpoint.Checkpoint(self.allocations, registered))
