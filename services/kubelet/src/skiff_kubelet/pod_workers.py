"""Pod workers: the kit's WorkLoop over pod keys (``skiff_client.controller``), and the loops that feed it.

* The pod informer (field selector ``spec.nodeName=<node>``) enqueues a key on every add/update/delete.
* The relister (Kubernetes' PLEG, by polling; ``pleg.py``) lists sandboxes and containers every
  ``relist_period``, refreshes the pod status cache the syncs read, and enqueues the pods in which a
  lifecycle event happened -- that is how a container exit is noticed.
* Housekeeping (every ``sync_frequency``) enqueues every known pod (level-triggered resync) and kills
  sandboxes whose pod uid is not in the informer's cache: pods deleted while the kubelet was down, or
  force-deleted ones. It reads the PLEG's cache, so it costs no CRI call unless there is something to
  kill. It only runs after the informer has synced, so a restarting kubelet adopts running pods
  instead of killing them. Then it removes pod folders (``<root-dir>/pods/<uid>``) of pods neither the
  informer nor the runtime knows, unmounting their tmpfs volumes first (Kubernetes'
  ``cleanupOrphanedPodDirs``): a pod deleted while the kubelet was down leaves no secret in memory.

The loop is the controllers' WorkLoop (one worker per pod key at a time, Result/requeue, client-go's
workqueue metrics under ``name="pods"``); the kubelet brings its own per-pod back-off (failed syncs retry
from 200 ms doubling to a minute) and marks RetryLater as expected (logged at info).

Eight workers: a sync mostly waits (for a relist newer than its last write, Kubernetes' GetNewerThan),
so more would seem free, but 32 did not start a 100-pod burst any sooner on two cores (the runtime's
work is the bound, docs/benchmarks.md) and only deepened the runtime's queue.
"""

from __future__ import annotations

import asyncio
import time

from skiff.api.core.v1 import pod_pb2
from skiff_client import CriClient, Informer, RateLimitingQueue, object_key, split_key
from skiff_client.controller import Result, WorkLoop
from skiff_client.workqueue import ItemExponentialLimiter, MaxOfLimiter
from skiff_common.observability import get_logger

from skiff_kubelet import metrics, volumes
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
        self.loop = WorkLoop("pods", self._sync, workers=workers, queue=self.queue, expected=(RetryLater,))
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
        tasks = [asyncio.create_task(self.loop.run(), name="pod-workers")]
        tasks.append(asyncio.create_task(self._relist_loop(), name="pleg"))
        tasks.append(asyncio.create_task(self._housekeeping_loop(), name="housekeeping"))
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _sync(self, key: str) -> Result | None:
        """One pod: clean up what an older pod of this name left, then sync it (or only clean up)."""
        start = time.monotonic()
        result = "success"
        try:
            pod = self.informer.store.get(key)
            if pod is None:
                ns, name = split_key(key)
                await self.syncer.cleanup_name(ns, name)
                return None
            await self.syncer.cleanup_name(pod.metadata.namespace, pod.metadata.name, pod.metadata.uid)
            requeue = await self.syncer.sync(pod)
            return Result(requeue_after=requeue) if requeue is not None else None
        except RetryLater:
            result = "retry"
            raise
        except Exception:
            result = "error"
            raise
        finally:
            SYNCS.labels(result).inc()
            SYNC_SECONDS.observe(time.monotonic() - start)

    async def relist_once(self) -> None:
        await self.relister.relist_once()

    async def housekeeping_once(self) -> None:
        # Listed before the pods are: a folder seen here was made by a sync of a pod already in the store,
        # so a pod added meanwhile is never mistaken for an orphan.
        on_disk = volumes.pod_uids(self.syncer.root_dir)
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
        for uid in on_disk - known - self.syncer.cache.uids():
            log.info("pod.orphan_dir_cleanup", uid=uid)
            volumes.teardown(self.syncer.root_dir, uid)
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
