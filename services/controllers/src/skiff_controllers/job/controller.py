"""Job controller: runs a Job's pods to completion (Kubernetes' job controller).

reconcile(ns/name) reads the Job and its pods from the caches and executes the plan of ``sync.plan``:

    gone / deleting  -> release the tracking finalizer of its pods (nothing else will)
    finished         -> release finalizers; ttlSecondsAfterFinished -> delete the Job (Background)
    otherwise        -> delete (suspend, surplus, failing Job), create (parallelism, indexes, back-off),
                        status write 1 (uncountedTerminatedPods, completedIndexes, conditions, counts),
                        remove finalizers of finished pods, status write 2 (``sync.settle``: counts, and
                        Complete/Failed once nothing is active or uncounted), Events

The status write that records a finished pod always precedes the removal of its finalizer, so a
controller killed at any point neither loses nor double-counts a completion (see sync.py). Pod creations
go through expectations, so a cache that lags behind our own creates never causes extra pods.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from skiff.api.batch.v1 import batch_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_client import object_key
from skiff_client.controller import (
    CONTROLLER_UID_INDEX,
    ControllerBuilder,
    ControllerRefManager,
    Expectations,
    PodControl,
    Result,
    TerminalError,
    controller_ref,
    new_controller_ref,
    owner_key,
)
from skiff_client.store import NAMESPACE_INDEX
from skiff_common import errors
from skiff_common.apimachinery import labels
from skiff_common.observability import get_logger

from skiff_controllers.base import ControllerContext
from skiff_controllers.job import sync
from skiff_controllers.job.pods import remove_finalizer, shape_pod

log = get_logger(__name__)

JOB_NAME_INDEX = "jobName"  # "ns/name" of the Job a pod's controller ref names (for released Jobs)


def job_name_index(pod: pod_pb2.Pod) -> list[str]:
    ref = controller_ref(pod)
    if ref is None or ref.kind != "Job":
        return []
    return [f"{pod.metadata.namespace}/{ref.name}"]


class JobController:
    name = "job"
    workers = 5

    def __init__(self, ctx: ControllerContext, clock: Callable[[], float] = time.time) -> None:
        self.api, self.events, self.clock = ctx.api, ctx.events, clock
        self.expectations = Expectations()
        self.backoff: dict[str, sync.Backoff] = {}
        # uids whose finalizer we removed but the pod cache has not shown yet (Kubernetes'
        # uidTrackingExpectations): until it does, the cached pod must not look tracked, or a fresh Job
        # status and a stale pod would count one completion twice.
        self.released: set[str] = set()
        self.pod_control = PodControl(ctx.api, ctx.events)
        self.jobs = ctx.factory.informer(batch_pb2.Job)
        self.pods = ctx.factory.informer(pod_pb2.Pod)
        self.loop = (
            ControllerBuilder(self.name, ctx.factory)
            .for_(batch_pb2.Job)
            .owns(pod_pb2.Pod)
            .watches(pod_pb2.Pod, self._stranded)
            .workers(self.workers)
            .complete(self.reconcile)
        )
        self.pods.add_indexer(JOB_NAME_INDEX, job_name_index)
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)

    # -- handlers (enqueue / expectations only) ---------------------------------------------------
    def _pod_added(self, pod: pod_pb2.Pod) -> None:
        if (key := owner_key(pod, self.jobs, "Job")) is not None:
            self.expectations.creation_observed(key)

    def _pod_updated(self, old: pod_pb2.Pod, pod: pod_pb2.Pod) -> None:
        if sync.FINALIZER not in pod.metadata.finalizers:
            self.released.discard(pod.metadata.uid)
        # A pod being deleted is as good as gone for counting active pods (Kubernetes' updatePod does the
        # same), so its deletion is observed when the deletionTimestamp appears, not after the grace period.
        if pod.metadata.HasField("deletion_timestamp") and not old.metadata.HasField("deletion_timestamp"):
            if (key := owner_key(pod, self.jobs, "Job")) is not None:
                self.expectations.deletion_observed(key, pod.metadata.uid)

    def _pod_deleted(self, pod: pod_pb2.Pod) -> None:
        self.released.discard(pod.metadata.uid)
        if (key := owner_key(pod, self.jobs, "Job")) is not None:
            self.expectations.deletion_observed(key, pod.metadata.uid)

    def _stranded(self, pod: pod_pb2.Pod) -> list[str]:
        """A tracked pod whose Job is gone (or was replaced): its old Job's key releases it."""
        if sync.FINALIZER not in pod.metadata.finalizers:
            return []
        keys = job_name_index(pod)
        if keys and owner_key(pod, self.jobs, "Job") is None:
            return keys
        return []

    # -- reconcile ------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result | None:
        try:
            return await self._reconcile(key)
        except errors.Conflict:
            # Our cached copy was behind a write (often our own status write): the informer is bringing
            # the newer object, whose event enqueues this key again. Not worth a warning and a backoff.
            log.debug("job.stale_cache", key=key)
            return None

    async def _reconcile(self, key: str) -> Result | None:
        cached = self.jobs.store.get(key)
        if cached is None:
            self.expectations.delete(key)
            self.backoff.pop(key, None)
            await self._release_stranded(key, uid=None)
            return None
        job = copy.deepcopy(cached)
        await self._release_stranded(key, uid=job.metadata.uid)
        if job.metadata.HasField("deletion_timestamp"):
            for pod in self.pods.store.by_index(CONTROLLER_UID_INDEX, job.metadata.uid):
                await remove_finalizer(self.api, pod)
            return None
        now = self.clock()
        if sync.is_finished(job):
            for pod in self.pods.store.by_index(CONTROLLER_UID_INDEX, job.metadata.uid):
                await remove_finalizer(self.api, pod)
            return await self._ttl(job, now)
        pods = [self._as_observed(p) for p in await self._claim(job)]
        satisfied = self.expectations.satisfied(key)
        plan = sync.plan(job, pods, now, self.backoff.get(key, sync.Backoff()), expectations_satisfied=satisfied)
        self.backoff[key] = plan.backoff
        await self._delete(job, key, plan)
        created = await self._create(job, key, plan.create)
        job = await self._write_status(job, plan.status)
        for pod in plan.untrack:
            await self._untrack(pod)
        # Still tracked: carries the finalizer and we did not just remove it (self.released).
        still = {
            p.metadata.uid
            for p in pods
            if sync.FINALIZER in p.metadata.finalizers and p.metadata.uid not in self.released
        }
        pending = 0 if self.expectations.satisfied(key) else 1
        status, events = sync.settle(job, job.status, still, len(still) + created + pending, now)
        job = await self._write_status(job, status)
        for type_, reason, message in [*plan.events, *events]:
            self.events.record(job, type_, reason, message)
        requeue = plan.requeue_after
        if sync.is_finished(job):
            ttl = await self._ttl(job, self.clock())
            requeue = ttl.requeue_after if ttl is not None else None
        return Result(requeue_after=max(requeue, 0.05)) if requeue is not None else None

    async def _delete(self, job: batch_pb2.Job, key: str, plan: sync.Plan) -> None:
        """Delete what the plan says, expecting each deletion, so a cache that still shows a deleted pod as
        active does not make the next sync delete another one."""
        doomed = [(p, False) for p in plan.delete_untracked] + [(p, True) for p in plan.delete_tracked]
        if not doomed:
            return
        self.expectations.expect_deletions(key, [p.metadata.uid for p, _ in doomed])
        for i, (pod, tracked) in enumerate(doomed):
            try:
                if tracked or await self._untrack(pod):
                    await self.pod_control.delete(pod, job)
                else:
                    self.expectations.deletion_observed(key, pod.metadata.uid)
            except Exception:
                for p, _ in doomed[i:]:
                    self.expectations.deletion_observed(key, p.metadata.uid)  # will never be observed
                raise

    def _as_observed(self, pod: pod_pb2.Pod) -> pod_pb2.Pod:
        if pod.metadata.uid not in self.released or sync.FINALIZER not in pod.metadata.finalizers:
            return pod
        out = copy.deepcopy(pod)
        out.metadata.finalizers.remove(sync.FINALIZER)
        return out

    async def _untrack(self, pod: pod_pb2.Pod) -> bool:
        if sync.FINALIZER not in pod.metadata.finalizers:
            return True
        self.released.add(pod.metadata.uid)
        if await remove_finalizer(self.api, pod):
            return True
        self.released.discard(pod.metadata.uid)
        return False

    async def _claim(self, job: batch_pb2.Job) -> list[pod_pb2.Pod]:
        try:
            selector = labels.selector_from_proto(job.spec.selector)
        except ValueError as exc:
            raise TerminalError(f"spec.selector: {exc}") from exc
        if selector.empty():
            raise TerminalError("spec.selector: empty selector would select every pod")
        ns, uid = job.metadata.namespace, job.metadata.uid
        owned = self.pods.store.by_index(CONTROLLER_UID_INDEX, uid)
        orphans = [
            p
            for p in self.pods.store.by_index(NAMESPACE_INDEX, ns)
            if controller_ref(p) is None and selector.matches(dict(p.metadata.labels))
        ]
        manager = ControllerRefManager(
            self.api, job, "batch/v1", "Job", lambda p: selector.matches(dict(p.metadata.labels))
        )
        return await manager.claim([p for p in owned if p.metadata.namespace == ns] + orphans)

    async def _create(self, job: batch_pb2.Job, key: str, which: list[int | None]) -> int:
        if not which:
            return 0
        self.expectations.expect_creations(key, len(which))
        ref = new_controller_ref(job, "batch/v1", "Job")
        done = 0
        for index in which:
            prefix = f"{job.metadata.name}-" if index is None else f"{job.metadata.name}-{index}-"
            try:
                await self.pod_control.create_from_template(
                    job.spec.template,
                    job,
                    ref,
                    namespace=job.metadata.namespace,
                    generate_name=prefix,
                    mutate=lambda pod, i=index: shape_pod(job, pod, i),  # type: ignore[misc]
                )
            except errors.SkiffError:
                for _ in range(len(which) - done):
                    self.expectations.creation_observed(key)  # those creates will never be observed
                raise
            done += 1
        return done

    async def _write_status(self, job: batch_pb2.Job, status: Any) -> batch_pb2.Job:
        if status == job.status:
            return job
        new = copy.deepcopy(job)
        new.status.CopyFrom(status)
        try:
            return await self.api.update_status(new)
        except errors.NotFound:
            return new

    async def _ttl(self, job: batch_pb2.Job, now: float) -> Result | None:
        left = sync.ttl_remaining(job, now)
        if left is None:
            return None
        if left > 0:
            return Result(requeue_after=left)
        try:
            await self.api.delete(
                batch_pb2.Job,
                job.metadata.name,
                job.metadata.namespace,
                propagation_policy="Background",
                preconditions_uid=job.metadata.uid,
            )
            log.info("job.ttl_deleted", job=object_key(job))
        except (errors.NotFound, errors.FailedPrecondition):
            pass
        return None

    async def _release_stranded(self, key: str, uid: str | None) -> None:
        """Pods whose controller ref names this Job's name but not this Job (gone or replaced)."""
        for pod in self.pods.store.by_index(JOB_NAME_INDEX, key):
            ref = controller_ref(pod)
            if ref is not None and ref.uid != uid and sync.FINALIZER in pod.metadata.finalizers:
                await remove_finalizer(self.api, pod)


def new_job(ctx: ControllerContext) -> JobController:
    return JobController(ctx)
