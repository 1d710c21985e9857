"""CronJob controller: starts a Job per schedule time (Kubernetes' cronjob controller v2).

reconcile(ns/name) runs ``sync.plan`` on the CronJob and the Jobs it controls (by controller UID, from
the shared Job informer) and executes it: Replace deletes the running Jobs, the Job for the schedule
time is created, finished Jobs beyond the history limits are deleted (Background propagation), the
status (active, lastScheduleTime, lastSuccessfulTime) is written, and the key comes back at the next
schedule time (``Result.requeue_after``), not by polling.

Exactly one Job per schedule time, even across restarts: the Job's name is the schedule time in minutes,
so a second create for that time (by a restarted controller that never saw its own status write) fails
with AlreadyExists, which means "done" -- the existing Job is recorded as active instead.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import datetime

from skiff.api.batch.v1 import batch_pb2
from skiff_client.controller import CONTROLLER_UID_INDEX, ControllerBuilder, Result, controller_ref
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_controllers.base import ControllerContext
from skiff_controllers.cronjob import sync

log = get_logger(__name__)


class CronJobController:
    name = "cronjob"
    workers = 2

    def __init__(self, ctx: ControllerContext, clock: Callable[[], float] = time.time) -> None:
        self.api, self.events, self.clock = ctx.api, ctx.events, clock
        self.cronjobs = ctx.factory.informer(batch_pb2.CronJob)
        self.jobs = ctx.factory.informer(batch_pb2.Job)
        self.loop = (
            ControllerBuilder(self.name, ctx.factory)
            .for_(batch_pb2.CronJob)
            .owns(batch_pb2.Job)
            .workers(self.workers)
            .complete(self.reconcile)
        )

    async def reconcile(self, key: str) -> Result | None:
        try:
            return await self._reconcile(key)
        except errors.Conflict:
            # Our cached copy was behind a write (often our own status write): the informer is bringing
            # the newer object, whose event enqueues this key again. Not worth a warning and a backoff.
            log.debug("cronjob.stale_cache", key=key)
            return None

    async def _reconcile(self, key: str) -> Result | None:
        cached = self.cronjobs.store.get(key)
        if cached is None:
            return None
        cj = copy.deepcopy(cached)
        jobs = [
            j
            for j in self.jobs.store.by_index(CONTROLLER_UID_INDEX, cj.metadata.uid)
            if j.metadata.namespace == cj.metadata.namespace
        ]
        jobs += await self._missing_from_cache(cj, jobs)
        plan = sync.plan(cj, jobs, self.clock())
        status = plan.status
        for name in plan.delete_active:
            await self._delete_job(cj, name)
        if plan.create is not None:
            await self._create(cj, plan.create, status)
        for job in plan.prune:
            await self._delete_job(cj, job.metadata.name)
        for type_, reason, message in plan.events:
            self.events.record(cj, type_, reason, message)
        if status != cj.status:
            cj.status.CopyFrom(status)
            try:
                await self.api.update_status(cj)
            except errors.NotFound:
                return None
        if plan.requeue_after is None:
            return None
        return Result(requeue_after=plan.requeue_after)

    async def _missing_from_cache(self, cj: batch_pb2.CronJob, jobs: list[batch_pb2.Job]) -> list[batch_pb2.Job]:
        """Active Jobs the cache does not show yet (just created): a live read before calling them missing,
        as Kubernetes does."""
        cached = {j.metadata.uid for j in jobs}
        found = []
        for ref in cj.status.active:
            if ref.uid in cached:
                continue
            try:
                live = await self.api.get(batch_pb2.Job, ref.name, cj.metadata.namespace)
            except errors.NotFound:
                continue
            if live.metadata.uid == ref.uid:
                found.append(live)
        return found

    async def _create(self, cj: batch_pb2.CronJob, scheduled: datetime, status: batch_pb2.CronJobStatus) -> None:
        job = sync.job_from_template(cj, scheduled, batch_pb2.Job)
        try:
            created = await self.api.create(job)
        except errors.AlreadyExists:
            # Made before (by us, before a restart): that schedule time is done. Record it if it is ours.
            created = await self.api.get(batch_pb2.Job, job.metadata.name, job.metadata.namespace)
            ref = controller_ref(created)
            if ref is None or ref.uid != cj.metadata.uid:
                log.warning("cronjob.name_taken", cronjob=cj.metadata.name, job=job.metadata.name)
                status.last_schedule_time.FromSeconds(int(scheduled.timestamp()))
                return
        except errors.SkiffError as exc:
            self.events.record(cj, "Warning", "FailedCreate", f"Error creating job: {exc}")
            raise
        else:
            self.events.record(cj, "Normal", "SuccessfulCreate", f"Created job {created.metadata.name}")
        if not any(r.uid == created.metadata.uid for r in status.active) and not _finished(created):
            status.active.append(sync.job_ref(created))
        status.last_schedule_time.FromSeconds(int(scheduled.timestamp()))

    async def _delete_job(self, cj: batch_pb2.CronJob, name: str) -> None:
        try:
            await self.api.delete(batch_pb2.Job, name, cj.metadata.namespace, propagation_policy="Background")
        except errors.NotFound:
            return
        except errors.SkiffError as exc:
            self.events.record(cj, "Warning", "FailedDelete", f"Deleted job: {exc}")
            raise
        self.events.record(cj, "Normal", "SuccessfulDelete", f"Deleted job {name}")


def _finished(job: batch_pb2.Job) -> bool:
    return any(c.type in ("Complete", "Failed") and c.status == "True" for c in job.status.conditions)


def new_cronjob(ctx: ControllerContext) -> CronJobController:
    return CronJobController(ctx)
