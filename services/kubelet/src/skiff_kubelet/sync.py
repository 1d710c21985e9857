"""The pod worker's sync: make the runtime match one pod, then report status.

Level-triggered: every call starts from the pod in the informer cache and a fresh runtime snapshot,
decides the next steps, takes them, re-reads the snapshot and writes the status if it changed. Steps:

1. pod gone from the API            -> kill whatever runs under its name (housekeeping also catches
                                       sandboxes whose pod uid is unknown)
2. deletionTimestamp set            -> StopContainer(grace) -> StopPodSandbox -> RemovePodSandbox,
                                       volumes removed, then the final Delete(grace=0, uid precondition)
3. phase Succeeded/Failed           -> stop leftovers, release the sandbox (its IP), nothing restarts
4. otherwise                        -> sandbox (RunPodSandbox), init containers one by one, then the
                                       app containers; exited containers restart per restartPolicy with
                                       CrashLoopBackOff (10 s doubling, capped at 5 min)

A step that fails records a waiting reason (ErrImagePull, CreateContainerConfigError, ...) for the
status and makes ``sync`` raise ``RetryLater`` after the status write, so the worker requeues the key
with rate-limited backoff.
"""

from __future__ import annotations

import copy
import time

from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import ApiClient, CriClient, EventRecorder
from skiff_client.cri import call
from skiff_client.events import now_timestamp
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_kubelet import labels as L
from skiff_kubelet import volumes
from skiff_kubelet.container import build_container_config
from skiff_kubelet.env import ConfigError, Lookup, resolve_env
from skiff_kubelet.images import ImageError, ensure_image
from skiff_kubelet.killing import grace_seconds, kill_sandboxes, remove_pod_files
from skiff_kubelet.probes import ProbeManager
from skiff_kubelet.runtime_state import PodRuntime, pod_runtime
from skiff_kubelet.sandbox import build_sandbox_config
from skiff_kubelet.status import DEFAULT_RUNTIME_NAME, TERMINAL_PHASES, compute_status

log = get_logger(__name__)

BACKOFF_BASE = 10.0
BACKOFF_MAX = 300.0


class RetryLater(Exception):
    """Something failed; the status was written; requeue with backoff."""


def crash_backoff(restarts: int, base: float = BACKOFF_BASE) -> float:
    return min(base * (2 ** max(restarts - 1, 0)), BACKOFF_MAX) if restarts else 0.0


class PodSyncer:
    def __init__(
        self,
        api: ApiClient,
        cri_client: CriClient,
        events: EventRecorder,
        lookup: Lookup,
        *,
        node_name: str,
        host_ip: str,
        root_dir: str,
        pod_log_dir: str,
        probes: ProbeManager | None = None,
        backoff_base: float = BACKOFF_BASE,
        cgroup_root: str = "skiff",
    ) -> None:
        self.cgroup_root = cgroup_root
        # Learnt from the runtime's CRI Version at start; names the scheme of containerIDs.
        self.runtime_name = DEFAULT_RUNTIME_NAME
        self.probes = probes
        self.backoff_base = backoff_base
        self.api = api
        self.cri = cri_client
        self.events = events
        self.lookup = lookup
        self.node_name = node_name
        self.host_ip = host_ip
        self.root_dir = root_dir
        self.pod_log_dir = pod_log_dir

    # -- entry points -------------------------------------------------------------------------------
    async def sync(self, cached: pod_pb2.Pod) -> float | None:
        """Converge one pod; returns seconds until it wants another look (None: only on events)."""
        pod = copy.deepcopy(cached)  # never mutate the informer's object
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        rt = await pod_runtime(self.cri, pod.metadata.uid)
        if pod.metadata.HasField("deletion_timestamp") or pod.status.phase in TERMINAL_PHASES:
            if self.probes is not None:
                self.probes.forget_pod(key)
        if pod.metadata.HasField("deletion_timestamp"):
            await self.terminate(pod, rt)
            return None
        if pod.status.phase in TERMINAL_PHASES:
            if any(sb.state == cri.SANDBOX_READY for sb in rt.sandboxes):
                await kill_sandboxes(self.cri, rt, grace_seconds(pod), remove=False)
            return None
        waiting: dict[str, tuple[str, str]] = {}
        failed = False
        requeue: float | None = None
        try:
            requeue = await self._converge(pod, rt, waiting)
        except RetryLater:
            failed = True
        rt = await pod_runtime(self.cri, pod.metadata.uid)
        if self.probes is not None and await self._check_probes(pod, rt, key):
            rt = await pod_runtime(self.cri, pod.metadata.uid)
            requeue = 0.0 if requeue is None else min(requeue, 0.0)  # restart per restartPolicy now
        await self._write_status(pod, rt, waiting)
        if failed:
            raise RetryLater(f"pod {pod.metadata.namespace}/{pod.metadata.name}: {waiting}")
        return requeue

    async def _check_probes(self, pod: pod_pb2.Pod, rt: PodRuntime, key: str) -> bool:
        """Start/stop probe workers; stop containers whose liveness failed. True if one was killed."""
        assert self.probes is not None
        running = {}
        for c in pod.spec.containers:
            latest = rt.latest(c.name)
            if latest is not None and latest.state == cri.CONTAINER_RUNNING:
                running[c.name] = latest.id
        ips = rt.pod_ips()
        self.probes.sync_pod(pod, running, self.host_ip if pod.spec.host_network else (ips[0] if ips else ""), key)
        killed = False
        for c in pod.spec.containers:
            cid = running.get(c.name)
            if cid is None or self.probes.live(cid):
                continue
            self.events.record(pod, "Warning", "Unhealthy", f"Liveness probe failed for container {c.name}")
            self.events.record(pod, "Normal", "Killing", f"Container {c.name} failed liveness probe, will be restarted")
            grace = (
                c.liveness_probe.termination_grace_period_seconds
                if c.liveness_probe.HasField("termination_grace_period_seconds")
                else grace_seconds(pod)
            )
            try:
                await call(self.cri.runtime.StopContainer(cri.StopContainerRequest(container_id=cid, timeout=grace)))
            except errors.NotFound:
                pass
            killed = True
        return killed

    async def terminate(self, pod: pod_pb2.Pod, rt: PodRuntime) -> None:
        m = pod.metadata
        if rt.sandboxes:
            self.events.record(pod, "Normal", "Killing", "Stopping pod containers")
            await kill_sandboxes(self.cri, rt, grace_seconds(pod))
        remove_pod_files(self.root_dir, self.pod_log_dir, rt, m.uid, self.cgroup_root)
        try:
            await self.api.delete(pod_pb2.Pod, m.name, m.namespace, grace_period_seconds=0, preconditions_uid=m.uid)
            log.info("pod.deleted", pod=f"{m.namespace}/{m.name}")
        except (errors.NotFound, errors.Conflict, errors.FailedPrecondition):
            pass  # already gone, or a new pod with the same name: nothing of ours to delete

    # -- convergence --------------------------------------------------------------------------------
    async def _converge(self, pod: pod_pb2.Pod, rt: PodRuntime, waiting: dict[str, tuple[str, str]]) -> float | None:
        if rt.sandbox is None:
            rt = await self._new_sandbox(pod, rt, waiting)
        attempt = rt.sandbox.metadata.attempt if rt.sandbox is not None else 0
        sandbox_config = build_sandbox_config(
            pod, pod_log_dir=self.pod_log_dir, attempt=attempt, cgroup_root=self.cgroup_root
        )
        ips = rt.pod_ips()
        if ips:
            pod.status.pod_ip = ips[0]  # for fieldRef status.podIP
        pod.status.host_ip = self.host_ip
        policy = pod.spec.restart_policy or "Always"
        for c in pod.spec.init_containers:
            latest = rt.latest(c.name)
            if latest is None:
                await self._start(pod, c, 0, rt, sandbox_config, waiting, init=True)
                return None
            if latest.state == cri.CONTAINER_CREATED:
                await self._start_created(pod, latest.id, c.name, waiting)
                return None
            if latest.state != cri.CONTAINER_EXITED:
                return None  # running: wait for it
            if latest.exit_code == 0:
                continue
            if policy == "Never":
                return None  # the pod fails (status computes Failed)
            return await self._restart(pod, c, latest, rt, sandbox_config, waiting, init=True)
        requeues: list[float] = []
        for c in pod.spec.containers:
            latest = rt.latest(c.name)
            if latest is None:
                await self._start(pod, c, 0, rt, sandbox_config, waiting)
            elif latest.state == cri.CONTAINER_CREATED:
                await self._start_created(pod, latest.id, c.name, waiting)
            elif latest.state == cri.CONTAINER_EXITED:
                if policy == "Always" or (policy == "OnFailure" and latest.exit_code != 0):
                    delay = await self._restart(pod, c, latest, rt, sandbox_config, waiting)
                    if delay:
                        requeues.append(delay)
        if any(w[0] not in ("CrashLoopBackOff",) for w in waiting.values()):
            raise RetryLater()
        return min(requeues) if requeues else None

    async def _new_sandbox(self, pod: pod_pb2.Pod, rt: PodRuntime, waiting: dict[str, tuple[str, str]]) -> PodRuntime:
        # A dead sandbox takes its network with it: start over in a new one (attempt + 1), as the
        # kubelet does; old sandboxes are removed so they stop holding an IP.
        attempt = (rt.sandboxes[0].metadata.attempt + 1) if rt.sandboxes else 0
        if rt.sandboxes:
            await kill_sandboxes(self.cri, rt, 0)
        config = build_sandbox_config(pod, pod_log_dir=self.pod_log_dir, attempt=attempt, cgroup_root=self.cgroup_root)
        try:
            resp = await call(self.cri.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config)))
        except errors.SkiffError as exc:
            self.events.record(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}")
            for c in list(pod.spec.init_containers) + list(pod.spec.containers):
                waiting[c.name] = ("ContainerCreating", f"sandbox: {exc}")
            raise RetryLater() from exc
        log.info("sandbox.created", pod=f"{pod.metadata.namespace}/{pod.metadata.name}", id=resp.pod_sandbox_id)
        return await pod_runtime(self.cri, pod.metadata.uid)

    async def _restart(
        self,
        pod: pod_pb2.Pod,
        c: container_pb2.Container,
        latest: cri.ContainerStatus,
        rt: PodRuntime,
        sandbox_config: cri.PodSandboxConfig,
        waiting: dict[str, tuple[str, str]],
        *,
        init: bool = False,
    ) -> float | None:
        restarts = latest.metadata.attempt + 1
        delay = crash_backoff(restarts, self.backoff_base)
        if latest.finished_at:
            # The exited process' runtime age counts towards the back-off window.
            delay -= time.time() - latest.finished_at / 1e9
        if delay > 0:
            window = crash_backoff(restarts, self.backoff_base)
            waiting[c.name] = (
                "CrashLoopBackOff",
                f"back-off {window:g}s restarting failed container={c.name}",
            )
            return delay
        await self._start(pod, c, restarts, rt, sandbox_config, waiting, init=init)
        # Keep only the previous attempt (for logs --previous); remove older ones.
        for old in rt.containers.get(c.name, [])[1:]:
            try:
                await call(self.cri.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=old.id)))
            except errors.NotFound:
                pass
        return None

    async def _start(
        self,
        pod: pod_pb2.Pod,
        c: container_pb2.Container,
        attempt: int,
        rt: PodRuntime,
        sandbox_config: cri.PodSandboxConfig,
        waiting: dict[str, tuple[str, str]],
        *,
        init: bool = False,
    ) -> None:
        try:
            image_ref, pulled = await ensure_image(self.cri, c, sandbox_config)
            if pulled:
                self.events.record(pod, "Normal", "Pulled", f'Successfully pulled image "{c.image}"')
        except ImageError as exc:
            waiting[c.name] = (exc.reason, str(exc))
            self.events.record(pod, "Warning", "Failed", str(exc))
            return
        try:
            env = await resolve_env(pod, c, self.lookup)
            vol_paths = await volumes.setup_volumes(pod, self.root_dir, self.lookup)
            config = build_container_config(
                pod, c, attempt=attempt, image_ref=image_ref, env=env, volume_paths=vol_paths, init=init
            )
        except ConfigError as exc:
            waiting[c.name] = ("CreateContainerConfigError", str(exc))
            self.events.record(pod, "Warning", "Failed", f"Error: {exc}")
            return
        try:
            resp = await call(
                self.cri.runtime.CreateContainer(
                    cri.CreateContainerRequest(
                        pod_sandbox_id=rt.sandbox_id, config=config, sandbox_config=sandbox_config
                    )
                )
            )
        except errors.SkiffError as exc:
            waiting[c.name] = ("CreateContainerError", str(exc))
            self.events.record(pod, "Warning", "Failed", f"Error: {exc}")
            return
        self.events.record(pod, "Normal", "Created", f"Created container {c.name}")
        await self._start_created(pod, resp.container_id, c.name, waiting)

    async def _start_created(
        self, pod: pod_pb2.Pod, container_id: str, name: str, waiting: dict[str, tuple[str, str]]
    ) -> None:
        try:
            await call(self.cri.runtime.StartContainer(cri.StartContainerRequest(container_id=container_id)))
        except errors.SkiffError as exc:
            waiting[name] = ("RunContainerError", str(exc))
            self.events.record(pod, "Warning", "Failed", f"Error: {exc}")
            return
        self.events.record(pod, "Normal", "Started", f"Started container {name}")

    # -- status -------------------------------------------------------------------------------------
    async def _write_status(self, pod: pod_pb2.Pod, rt: PodRuntime, waiting: dict[str, tuple[str, str]]) -> None:
        probes = self.probes

        def ready(c: container_pb2.Container, cid: str) -> bool:
            return probes is None or probes.ready(cid, c.HasField("readiness_probe"))

        new = compute_status(
            pod,
            rt,
            host_ip=self.host_ip,
            now=now_timestamp(),
            waiting=waiting,
            ready_fn=ready,
            runtime_name=self.runtime_name,
        )
        if new == pod.status:
            return
        pod.status.CopyFrom(new)
        try:
            await self.api.update_status(pod)
        except errors.Conflict:
            # Our cache was stale; the informer will deliver the newer pod and we sync again.
            raise RetryLater("status conflict") from None
        except errors.NotFound:
            pass

    async def cleanup_name(self, namespace: str, name: str, keep_uid: str = "") -> None:
        """Kill sandboxes labelled with this pod name whose uid is not ``keep_uid``."""
        resp = await call(
            self.cri.runtime.ListPodSandbox(
                cri.ListPodSandboxRequest(
                    filter=cri.PodSandboxFilter(
                        label_selector={
                            L.POD_NAMESPACE: namespace,
                            L.POD_NAME: name,
                            L.MANAGED_BY: L.MANAGED_BY_VALUE,
                        }
                    )
                )
            )
        )
        for uid in {sb.labels.get(L.POD_UID, "") for sb in resp.items} - {keep_uid, ""}:
            rt = await pod_runtime(self.cri, uid)
            await kill_sandboxes(self.cri, rt, 0)
            remove_pod_files(self.root_dir, self.pod_log_dir, rt, uid, self.cgroup_root)
