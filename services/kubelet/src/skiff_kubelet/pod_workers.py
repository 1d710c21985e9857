"""Pod workers: one queue of pod keys, N workers, and the two loops that feed it.

* The pod informer (field selector ``spec.nodeName=<node>``) enqueues a key on every add/update/delete.
* The relister (Kubernetes' PLEG, by polling; ``pleg.py``) lists sandboxes and containers every
  ``relist_period``, refreshes the pod status cache the syncs read, and enqueues the pods in which a
  lifecycle event happened -- that is how a container exit is noticed.
* Housekeeping (every ``sync_frequency``) enqueues every known pod (level-triggered resync) and kills
  sandboxes whose pod uid is not in the informer's cache: pods deleted while the kubelet was down, or
  force-deleted ones. It reads the PLEG's cache, so it costs no CRI call unless there is something to
  kill. It only runs after the informer has synced, so a restarting kubelet adopts running pods
  instead of killing them.

The RateLimitingQueue guarantees one worker per pod key at a time ("one worker per pod").
"""

from __future__ import annotations

import asyncio
import time

from skiff.api.core.v1 import pod_pb2
from skiff_client import CriClient, Informer, RateLimitingQueue, ShutDown, object_key, split_key
from skiff_client.workqueue import ItemExponentialLimiter, MaxOfLimiter
from skiff_common.observability import get_logger

from skiff_kubelet import metrics
from skiff_kubelet.killing import kill_sandboxes, remove_pod_files
from skiff_kubelet.pleg import PodLifecycleEvent, Relister
from skiff_kubelet.sync import PodSyncer, RetryLater

log = get_logger(__name__)

SYNCS = metrics.POD_SYNCS
SYNC_SECONDS = metrics.POD_WORKER_SECONDS.labels("sync")
ORPHANS = metrics.ORPHANS


class PodWorkers:
    def __init__(
        self,
        informer: Informer[pod_pb2.Pod],
        cri_client: CriClient,
        syncer: PodSyncer,
        *,
        workers: int = 8,
        relist_period: float = 1.0,
        sync_frequency: float = 10.0,
    ) -> None:
        self.informer = informer
        self.cri = cri_client
        self.syncer = syncer
        # Failed syncs (image pulls, sandbox errors) retry from 200 ms doubling to a minute: quick
        # enough for status conflicts, gentle enough for a registry that is down.
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(
            MaxOfLimiter(ItemExponentialLimiter(base=0.2, cap=60.0)), name="pods"
        )
        self.workers = workers
        self.relist_period = relist_period
        self.sync_frequency = sync_frequency
        self.relister = Relister(cri_client, syncer.cache, self._on_event)
        informer.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n), on_delete=self._enqueue)

    def _enqueue(self, pod: pod_pb2.Pod) -> None:
        self.queue.add(object_key(pod))

    def _on_event(self, event: PodLifecycleEvent) -> None:
        self.queue.add(event.key)

    async def run(self) -> None:
        await self.informer.wait_synced()
        tasks = [asyncio.create_task(self._worker(i), name=f"pod-worker-{i}") for i in range(self.workers)]
        tasks.append(asyncio.create_task(self._relist_loop(), name="pleg"))
        tasks.append(asyncio.create_task(self._housekeeping_loop(), name="housekeeping"))
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _worker(self, _n: int) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            start = time.monotonic()
            try:
                pod = self.informer.store.get(key)
                if pod is None:
                    ns, name = split_key(key)
                    await self.syncer.cleanup_name(ns, name)
                    requeue = None
                else:
                    await self.syncer.cleanup_name(pod.metadata.namespace, pod.metadata.name, pod.metadata.uid)
                    requeue = await self.syncer.sync(pod)
                self.queue.forget(key)
                if requeue is not None:
                    self.queue.add_after(key, requeue)
                SYNCS.labels("success").inc()
            except RetryLater as exc:
                SYNCS.labels("retry").inc()
                log.info("pod.sync_retry", pod=key, reason=str(exc))
                self.queue.add_rate_limited(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                SYNCS.labels("error").inc()
                log.warning("pod.sync_failed", pod=key, error=str(exc), exc_info=True)
                self.queue.add_rate_limited(key)
            finally:
                SYNC_SECONDS.observe(time.monotonic() - start)
                self.queue.done(key)

    async def relist_once(self) -> None:
        await self.relister.relist_once()

    async def housekeeping_once(self) -> None:
        for key in self.informer.store.keys():
            self.queue.add(key)
        known = {p.metadata.uid for p in self.informer.store.list()}
        await self.syncer.cache.get_newer_than("", 0.0)  # at least one relist
        for uid in self.syncer.cache.uids() - known:
            rt = await self.syncer.runtime_of(uid)
            if not rt.sandboxes:
                continue
            log.info("pod.orphan_cleanup", uid=uid)
            await kill_sandboxes(self.cri, rt, 2)
            self.syncer.note_write(uid)
            remove_pod_files(self.syncer.root_dir, self.syncer.pod_log_dir, rt, uid, self.syncer.cgroup_root)
            ORPHANS.inc()
        self.syncer.prune(known)

    async def _relist_loop(self) -> None:
        while True:
            try:
                await self.relist_once()
            except Exception as exc:
                log.warning("pleg.relist_failed", error=str(exc))
            await asyncio.sleep(self.relist_period)

    async def _housekeeping_loop(self) -> None:
        while True:
            try:
                await self.housekeeping_once()
            except Exception as exc:
                log.warning("housekeeping.failed", error=str(exc))
            await asyncio.sleep(self.sync_frequency)
