"""Carrying out one sync's plan against the runtime (the executing half of Kubernetes' ``SyncPod``).

What one sync learns on the way (the sandbox it runs in, the pod's IP, the volumes it set up, the
Service variables and /etc/hosts file it made, the waiting reasons of containers that could not
start, when it last wrote to the runtime) lives in one ``SyncState``, so each step takes the state
and its own instruction and nothing else. Volumes are set
up once per sync, before the first container that needs them, not once per container: secret and
configMap projections are still refreshed whenever a sync (re)starts containers, and in place on
every sync of a running pod (``volume_refresh.py``).

A step that fails records the container's waiting reason (ErrImagePull, CreateContainerConfigError,
CreateContainerError, RunContainerError) and an Event, and the other steps go on; the caller turns
recorded failures into ``RetryLater`` after the status is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from skiff.api.core.v1 import container_pb2, pod_pb2, service_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import CriClient, EventRecorder
from skiff_client.cri import call
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_kubelet import machine, projected, security, volumes
from skiff_kubelet.container import build_container_config
from skiff_kubelet.dns import ClusterDNS
from skiff_kubelet.env import ConfigError, Lookup, resolve_env
from skiff_kubelet.hosts import write_hosts_file
from skiff_kubelet.images import ImageError, ensure_image
from skiff_kubelet.killing import kill_sandboxes
from skiff_kubelet.plan import KillContainer, PodActions, StartContainer
from skiff_kubelet.pod_cgroups import limit_pod_pids
from skiff_kubelet.runtime_state import PodRuntime
from skiff_kubelet.sandbox import build_sandbox_config
from skiff_kubelet.service_env import pod_service_env
from skiff_kubelet.userns import PodIdRange, UsernsError, UsernsManager
from skiff_kubelet.volume_refresh import VolumeRefresher

log = get_logger(__name__)
ContainerConfig = cri.ContainerConfig  # the class attribute `cri` (the client) hides the module there

# Reasons that are a wait, not a failure: they do not make the sync retry with backoff.
NOT_FAILURES = ("CrashLoopBackOff",)


class RetryLater(Exception):
    """Something failed; the status was written; requeue with backoff."""


@dataclass
class SyncState:
    pod: pod_pb2.Pod  # a private copy: status.podIP/hostIP are filled in for fieldRef
    sandbox_id: str
    sandbox_config: cri.PodSandboxConfig
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    volume_paths: dict[str, str] | None = None
    service_env: dict[str, str] | None = None
    hosts_path: str | None = None
    last_write: float = 0.0  # monotonic time when the last runtime write returned (0: none)
    userns: PodIdRange | None = None  # the pod's id range (hostUsers: false), None: the host's ids

    def wrote(self) -> None:
        self.last_write = time.monotonic()

    def failed(self) -> bool:
        return any(reason not in NOT_FAILURES for reason, _ in self.waiting.values())


class DeviceSource(Protocol):
    async def allocate(self, pod: pod_pb2.Pod, c: container_pb2.Container) -> list[Any]: ...


# The Services the informer holds, or None while it has not listed them once.
ServiceSource = Callable[[], list[service_pb2.Service] | None]


def no_services() -> list[service_pb2.Service]:
    return []


async def verify_non_root(
    client: CriClient, pod: pod_pb2.Pod, c: container_pb2.Container, image: cri.ImageSpec
) -> None:
    """runAsNonRoot against the image's user, which only the runtime's ImageStatus knows."""
    try:
        status = await call(client.images.ImageStatus(cri.ImageStatusRequest(image=image)))
    except errors.SkiffError as exc:
        raise ConfigError(f"cannot verify runAsNonRoot: image status: {exc}") from exc
    security.verify_run_as_non_root(pod, c, status.image if status.HasField("image") else None)


@dataclass
class PlanExecutor:
    cri: CriClient
    events: EventRecorder
    lookup: Lookup
    root_dir: str
    pod_log_dir: str
    cgroup_root: str
    cluster_dns: ClusterDNS = field(default_factory=ClusterDNS)
    services: ServiceSource = no_services
    devices: DeviceSource | None = None  # the device manager: plugin answers per container (devices/)
    # The node's allocatable, for resourceFieldRef of a limit a container does not set (downward.py).
    allocatable: Callable[[], Mapping[str, str]] = machine.allocatable

    hardening: security.SecurityOptions = field(default_factory=security.SecurityOptions)
    # ServiceAccount tokens of projected volumes, cached and refreshed (projected.py).
    tokens: projected.TokenManager = field(init=False)
    # Secret, configMap, downwardAPI and projected volumes of running pods, rewritten when they change.
    refresher: VolumeRefresher = field(init=False)

    # Each hostUsers: false pod's host id range, kept in its pod directory (userns.py).
    userns: UsernsManager = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = projected.TokenManager(lambda *a: self.lookup.service_account_token(*a))
        self.refresher = VolumeRefresher(self.root_dir, self.lookup, self.tokens, lambda: self.allocatable())
        self.userns = UsernsManager(self.root_dir)

    async def refresh_volumes(self, pod: pod_pb2.Pod) -> None:
        await self.refresher.refresh(pod)

    def forget(self, uid: str) -> None:
        """Drop the tokens and refresh state of a pod that is gone."""
        self.tokens.forget(uid)
        self.refresher.forget(uid)

    def new_state(self, pod: pod_pb2.Pod, rt: PodRuntime, plan: PodActions, host_ip: str) -> SyncState:
        try:
            userns = self.userns.range_for(pod)
        except UsernsError as exc:
            self.events.record(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}")
            raise RetryLater(str(exc)) from exc
        config = build_sandbox_config(
            pod,
            pod_log_dir=self.pod_log_dir,
            attempt=plan.sandbox_attempt,
            cgroup_root=self.cgroup_root,
            cluster_dns=self.cluster_dns,
            seccomp_default=self.hardening.seccomp_default,
            seccomp_root=self.hardening.seccomp_root,
            userns=userns,
        )
        state = SyncState(pod, rt.sandbox_id, config, waiting=dict(plan.waiting), userns=userns)
        ips = rt.pod_ips()
        if ips:
            pod.status.pod_ip = ips[0]  # for fieldRef status.podIP
        pod.status.host_ip = host_ip
        return state

    async def execute(self, state: SyncState, rt: PodRuntime, plan: PodActions) -> None:
        for kill in plan.kill:
            await self._kill(state, kill)
        if plan.create_sandbox:
            await self._create_sandbox(state, rt, plan)
        for step in plan.start:
            await self._start(state, step)
        if state.failed():
            raise RetryLater()

    async def _kill(self, state: SyncState, kill: KillContainer) -> None:
        pod = state.pod
        self.events.record(pod, "Warning", "Unhealthy", f"Liveness probe failed for container {kill.name}")
        self.events.record(pod, "Normal", "Killing", f"Container {kill.name} failed liveness probe, will be restarted")
        request = cri.StopContainerRequest(container_id=kill.container_id, timeout=kill.grace)
        try:
            await call(self.cri.runtime.StopContainer(request))
        except errors.NotFound:
            pass
        state.wrote()

    async def _create_sandbox(self, state: SyncState, rt: PodRuntime, plan: PodActions) -> None:
        # A dead sandbox takes its network with it: start over in a new one (attempt + 1), as the
        # kubelet does; old sandboxes are removed so they stop holding an IP.
        pod = state.pod
        if plan.remove_old_sandboxes:
            await kill_sandboxes(self.cri, rt, 0)
            state.wrote()
        try:
            limit_pod_pids(self.cgroup_root, pod.metadata.uid, self.hardening.pod_max_pids)
        except OSError as exc:
            log.warning("pod_cgroup.pids_limit_failed", pod=pod.metadata.name, error=str(exc))
        try:
            resp = await call(self.cri.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=state.sandbox_config)))
        except errors.SkiffError as exc:
            self.events.record(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}")
            for c in list(pod.spec.init_containers) + list(pod.spec.containers):
                state.waiting[c.name] = ("ContainerCreating", f"sandbox: {exc}")
            raise RetryLater() from exc
        finally:
            state.wrote()
        state.sandbox_id = resp.pod_sandbox_id
        log.info("sandbox.created", pod=f"{pod.metadata.namespace}/{pod.metadata.name}", id=state.sandbox_id)
        # The new sandbox's IP, for fieldRef status.podIP of the containers started next.
        status = await call(
            self.cri.runtime.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=state.sandbox_id))
        )
        if status.status.network.ip:
            pod.status.pod_ip = status.status.network.ip

    async def _start(self, state: SyncState, step: StartContainer) -> None:
        if step.created_id:
            await self._start_created(state, step.created_id, step.container.name)
            return
        await self._create_and_start(state, step)
        for old in step.remove_after:
            try:
                await call(self.cri.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=old)))
            except errors.NotFound:
                pass
            state.wrote()

    async def _create_and_start(self, state: SyncState, step: StartContainer) -> None:
        pod, c = state.pod, step.container
        try:
            image_ref, pulled = await ensure_image(self.cri, c, state.sandbox_config)
            if pulled:
                self.events.record(pod, "Normal", "Pulled", f'Successfully pulled image "{c.image}"')
        except ImageError as exc:
            state.waiting[c.name] = (exc.reason, str(exc))
            self.events.record(pod, "Warning", "Failed", str(exc))
            return
        try:
            allocatable = self.allocatable()
            env = await resolve_env(pod, c, self.lookup, self._service_env(state), allocatable)
            if state.volume_paths is None:
                state.volume_paths = await volumes.setup_volumes(
                    pod, self.root_dir, self.lookup, self.tokens, allocatable
                )
            config = build_container_config(
                pod,
                c,
                attempt=step.attempt,
                image_ref=image_ref,
                env=env,
                volume_paths=state.volume_paths,
                init=step.init,
                hosts_path=self._hosts_file(state),
                seccomp_default=self.hardening.seccomp_default,
                seccomp_root=self.hardening.seccomp_root,
                userns=state.userns,
            )
            if security.run_as_non_root(pod, c):
                await verify_non_root(self.cri, pod, c, config.image)
        except ConfigError as exc:
            state.waiting[c.name] = ("CreateContainerConfigError", str(exc))
            self.events.record(pod, "Warning", "Failed", f"Error: {exc}")
            return
        if self.devices is not None and not await self._add_devices(state, c, config):
            return
        request = cri.CreateContainerRequest(
            pod_sandbox_id=state.sandbox_id, config=config, sandbox_config=state.sandbox_config
        )
        try:
            resp = await call(self.cri.runtime.CreateContainer(request))
        except errors.SkiffError as exc:
            state.waiting[c.name] = ("CreateContainerError", str(exc))
            self.events.record(pod, "Warning", "Failed", f"Error: {exc}")
            return
        finally:
            state.wrote()
        self.events.record(pod, "Normal", "Created", f"Created container {c.name}")
        await self._start_created(state, resp.container_id, c.name)

    async def _add_devices(self, state: SyncState, c: container_pb2.Container, config: ContainerConfig) -> bool:
        """Devices of extended resources (device plugins): their envs, mounts and annotations join the
        container's config; no free device keeps the container waiting with Kubernetes' message."""
        assert self.devices is not None
        try:
            answers = await self.devices.allocate(state.pod, c)
        except Exception as exc:  # AllocationError or the plugin's own failure
            message = f"Allocate failed due to {exc}, which is unexpected"
            state.waiting[c.name] = ("UnexpectedAdmissionError", message)
            self.events.record(state.pod, "Warning", "UnexpectedAdmissionError", message)
            return False
        for answer in answers:
            config.envs.extend(cri.KeyValue(key=k, value=v) for k, v in sorted(answer.envs.items()))
            config.mounts.extend(
                cri.Mount(container_path=m.container_path, host_path=m.host_path, readonly=m.read_only)
                for m in answer.mounts
            )
            config.annotations.update(answer.annotations)
        return True

    def _service_env(self, state: SyncState) -> dict[str, str]:
        if state.service_env is None:
            services = self.services()
            if services is None:
                raise ConfigError("services have not yet been read at least once, cannot construct envvars")
            state.service_env = pod_service_env(state.pod, services)
        return state.service_env

    def _hosts_file(self, state: SyncState) -> str:
        """The pod's /etc/hosts, written once per sync that starts containers (the IP may be new)."""
        if state.hosts_path is None:
            pod = state.pod
            ips = [pod.status.host_ip] if pod.spec.host_network else ([pod.status.pod_ip] if pod.status.pod_ip else [])
            state.hosts_path = ""
            if ips:  # as the kubelet: no IP yet, no managed hosts file
                pod_dir = volumes.pod_dir(self.root_dir, pod.metadata.uid)
                state.hosts_path = write_hosts_file(pod_dir, pod, ips, self.cluster_dns.domain)
        return state.hosts_path

    async def _start_created(self, state: SyncState, container_id: str, name: str) -> None:
        try:
            await call(self.cri.runtime.StartContainer(cri.StartContainerRequest(container_id=container_id)))
        except errors.SkiffError as exc:
            state.waiting[name] = ("RunContainerError", str(exc))
            self.events.record(state.pod, "Warning", "Failed", f"Error: {exc}")
            return
        finally:
            state.wrote()
        self.events.record(state.pod, "Normal", "Started", f"Started container {name}")
