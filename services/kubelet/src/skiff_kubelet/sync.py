"""The pod worker's sync: make the runtime match one pod, then report status.

Level-triggered: every call starts from the pod in the informer cache and the pod's runtime status in
the PLEG's cache (``pleg.py``), fresh enough to include this kubelet's own last writes to the pod. No
CRI call is made to *look*; calls are made only to change something. Steps:

1. pod gone from the API            -> kill whatever runs under its name (housekeeping also catches
                                       sandboxes whose pod uid is unknown)
2. deletionTimestamp set            -> StopContainer(grace) -> StopPodSandbox -> RemovePodSandbox,
                                       volumes removed, then the final Delete(grace=0, uid precondition)
3. phase Succeeded/Failed           -> stop leftovers, release the sandbox (its IP), nothing restarts
4. otherwise                        -> one plan (``plan.compute_pod_actions``: sandbox, kills, init and
                                       app containers, CrashLoopBackOff), carried out by ``actions``

The status is computed from the same cached view the plan was made from, plus the waiting reasons the
sync recorded; what the plan changed shows in the next sync, which the relist's events trigger. A step
that fails makes ``sync`` raise ``RetryLater`` after the status write, so the worker requeues the key
with rate-limited backoff.
"""

from __future__ import annotations

import copy
import time

from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import ApiClient, CriClient, EventRecorder
from skiff_client.events import now_timestamp
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_kubelet import labels as L
from skiff_kubelet import volumes
from skiff_kubelet.actions import PlanExecutor, RetryLater, ServiceSource, no_services
from skiff_kubelet.dns import ClusterDNS
from skiff_kubelet.env import Lookup
from skiff_kubelet.killing import grace_seconds, kill_sandboxes, remove_pod_files
from skiff_kubelet.plan import BACKOFF_BASE, compute_pod_actions
from skiff_kubelet.pleg import PodCache
from skiff_kubelet.probes import ProbeManager
from skiff_kubelet.runtime_state import PodRuntime
from skiff_kubelet.security import SecurityOptions
from skiff_kubelet.status import DEFAULT_RUNTIME_NAME, TERMINAL_PHASES, compute_status
from skiff_kubelet.tracing import pod_work_span

log = get_logger(__name__)

__all__ = ["PodSyncer", "RetryLater"]


class PodSyncer:
    def __init__(
        self,
        api: ApiClient,
        cri_client: CriClient,
        events: EventRecorder,
        lookup: Lookup,
        cache: PodCache,
        *,
        node_name: str,
        host_ip: str,
        root_dir: str,
        pod_log_dir: str,
        probes: ProbeManager | None = None,
        backoff_base: float = BACKOFF_BASE,
        cgroup_root: str = "skiff",
        cluster_dns: ClusterDNS | None = None,
        services: ServiceSource = no_services,
        hardening: SecurityOptions | None = None,
    ) -> None:
        self.cgroup_root = cgroup_root
        # Learnt from the runtime's CRI Version at start; names the scheme of containerIDs.
        self.runtime_name = DEFAULT_RUNTIME_NAME
        self.probes = probes
        self.backoff_base = backoff_base
        self.api = api
        self.cri = cri_client
        self.cache = cache
        self.events = events
        self.node_name = node_name
        self.host_ip = host_ip
        self.root_dir = root_dir
        self.pod_log_dir = pod_log_dir
        self.executor = PlanExecutor(
            cri_client, events, lookup, root_dir, pod_log_dir, cgroup_root, cluster_dns or ClusterDNS(), services
        )
        if hardening is not None:
            self.executor.hardening = hardening
            self.executor.userns.max_pods = hardening.max_pods
        # pod uid -> when this kubelet's last write to the pod's runtime state returned (monotonic):
        # the next sync waits for a relist newer than that (GetNewerThan).
        self._last_write: dict[str, float] = {}

    async def runtime_of(self, uid: str) -> PodRuntime:
        """The pod's cached runtime status, from a relist newer than our last write to it."""
        return await self.cache.get_newer_than(uid, self._last_write.get(uid, 0.0))

    def note_write(self, uid: str, at: float | None = None) -> None:
        self._last_write[uid] = time.monotonic() if at is None else at

    # -- entry points -------------------------------------------------------------------------------
    async def sync(self, cached: pod_pb2.Pod) -> float | None:
        """Converge one pod; returns seconds until it wants another look (None: only on events)."""
        pod = copy.deepcopy(cached)  # never mutate the informer's object
        uid = pod.metadata.uid
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        rt = await self.runtime_of(uid)
        if pod.metadata.HasField("deletion_timestamp") or pod.status.phase in TERMINAL_PHASES:
            if self.probes is not None:
                self.probes.forget_pod(key)
        if pod.metadata.HasField("deletion_timestamp"):
            await self.terminate(pod, rt)
            return None
        if pod.status.phase in TERMINAL_PHASES:
            if any(sb.state == cri.SANDBOX_READY for sb in rt.sandboxes):
                await kill_sandboxes(self.cri, rt, grace_seconds(pod), remove=False)
                self.note_write(uid)
            volumes.release_memory_backed(self.root_dir, pod)  # secrets leave memory; logs stay
            return None
        plan = compute_pod_actions(
            pod, rt, now=time.time(), backoff_base=self.backoff_base, unhealthy=self._unhealthy(pod, rt, key)
        )
        state = self.executor.new_state(pod, rt, plan, self.host_ip)
        failed = False
        try:
            with pod_work_span(pod, plan):
                await self.executor.execute(state, rt, plan)
        except RetryLater:
            failed = True
        if state.last_write:
            self.note_write(uid, state.last_write)
        # Secrets, configMaps, downwardAPI and projected tokens of running pods, rewritten in place.
        await self.executor.refresh_volumes(pod)
        await self._write_status(pod, rt, state.waiting)
        if failed:
            raise RetryLater(f"pod {key}: {state.waiting}")
        return plan.requeue_after

    def _unhealthy(self, pod: pod_pb2.Pod, rt: PodRuntime, key: str) -> set[str]:
        """Start/stop probe workers for the running containers; the ids whose liveness failed."""
        if self.probes is None:
            return set()
        running = {}
        for c in pod.spec.containers:
            latest = rt.latest(c.name)
            if latest is not None and latest.state == cri.CONTAINER_RUNNING:
                running[c.name] = latest.id
        ips = rt.pod_ips()
        self.probes.sync_pod(pod, running, self.host_ip if pod.spec.host_network else (ips[0] if ips else ""), key)
        return {cid for cid in running.values() if not self.probes.live(cid)}

    async def terminate(self, pod: pod_pb2.Pod, rt: PodRuntime) -> None:
        m = pod.metadata
        if rt.sandboxes:
            self.events.record(pod, "Normal", "Killing", "Stopping pod containers")
            await kill_sandboxes(self.cri, rt, grace_seconds(pod))
            self.note_write(m.uid)
        remove_pod_files(self.root_dir, self.pod_log_dir, rt, m.uid, self.cgroup_root)
        self.executor.forget(m.uid)
        try:
            await self.api.delete(pod_pb2.Pod, m.name, m.namespace, grace_period_seconds=0, preconditions_uid=m.uid)
            log.info("pod.deleted", pod=f"{m.namespace}/{m.name}")
        except (errors.NotFound, errors.Conflict, errors.FailedPrecondition):
            pass  # already gone, or a new pod with the same name: nothing of ours to delete

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
        """Kill sandboxes labelled with this pod name whose uid is not ``keep_uid`` (from the cache)."""
        await self.cache.get_newer_than("", 0.0)  # at least one relist
        for uid in self.cache.uids() - {keep_uid, ""}:
            if not any(
                sb.labels.get(L.POD_NAMESPACE) == namespace and sb.labels.get(L.POD_NAME) == name
                for sb in self.cache.get(uid).sandboxes
            ):
                continue
            rt = await self.runtime_of(uid)
            if rt.sandboxes:
                await kill_sandboxes(self.cri, rt, 0)
                self.note_write(uid)
            remove_pod_files(self.root_dir, self.pod_log_dir, rt, uid, self.cgroup_root)

    def prune(self, known: set[str]) -> None:
        """Forget the write times of pods gone from both the API and the runtime."""
        for uid in set(self._last_write) - known - self.cache.uids():
            del self._last_write[uid]
        self.executor.refresher.prune(known)
