"""ReplicaSet controller: keeps ``spec.replicas`` pods matching the template alive.

reconcile(ns/name)::

    pods   = active pods the ReplicaSet controls (claimed by UID: orphans that match are adopted,
             owned pods that no longer match are released -- the kit's ControllerRefManager)
    diff   = replicas - len(pods)            (only when expectations are satisfied)
    diff>0 -> create diff pods from the template, slow-start batches (PodControl)
    diff<0 -> delete the surplus, least valuable first (rank_pods_for_deletion)
    status -> replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (minReadySeconds),
              observedGeneration -- written only when it changed

Active means not terminating and not Succeeded/Failed. Expectations stop double creation while the
informer lags; everything generic lives in ``skiff_client.controller``.
"""

from __future__ import annotations

from typing import Any

from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_client.controller import (
    CONTROLLER_UID_INDEX,
    BatchError,
    ControllerBuilder,
    ControllerRefManager,
    Expectations,
    Result,
    TerminalError,
    WorkLoop,
    available_in,
    controller_ref,
    is_active,
    is_deleting,
    is_ready,
    new_controller_ref,
    rank_pods_for_deletion,
    slow_start_batch,
)
from skiff_client.controller.podevents import PodExpectationsFeed, orphan_adopters
from skiff_client.store import NAMESPACE_INDEX
from skiff_common import errors
from skiff_common.apimachinery import labels

from skiff_controllers.base import ControllerContext

NAME = "replicaset"
KIND = "ReplicaSet"
API_VERSION = "apps/v1"
BURST = 500  # at most this many creates/deletes per reconcile (Kubernetes' burstReplicas)
SLOW_START_INITIAL = 1


class ReplicaSetController:
    def __init__(self, ctx: ControllerContext, workers: int = 5) -> None:
        self.ctx = ctx
        self.api = ctx.api
        self.expectations = Expectations()
        self.rs = ctx.factory.informer(apps_pb2.ReplicaSet)
        self.pods = ctx.factory.informer(pod_pb2.Pod)
        self.loop: WorkLoop = (
            ControllerBuilder(NAME, ctx.factory)
            .for_(apps_pb2.ReplicaSet)
            .owns(pod_pb2.Pod)
            .watches(pod_pb2.Pod, lambda pod: orphan_adopters(pod, self.rs))
            .workers(workers)
            .complete(self.reconcile)
        )
        PodExpectationsFeed(self.rs, KIND, self.expectations).attach(self.pods)

    # -- reconcile ---------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result | None:
        rs = self.rs.store.get(key)
        if rs is None:
            self.expectations.delete(key)
            return None
        try:
            selector = labels.selector_from_proto(rs.spec.selector)
        except ValueError as exc:
            raise TerminalError(f"spec.selector: {exc}") from exc
        if selector.empty():
            raise TerminalError("spec.selector: an empty selector would select every pod")
        needs_sync = self.expectations.satisfied(key)
        ns = rs.metadata.namespace
        candidates = [
            p for p in self.pods.store.by_index(CONTROLLER_UID_INDEX, rs.metadata.uid) if p.metadata.namespace == ns
        ]
        candidates += [p for p in self.pods.store.by_index(NAMESPACE_INDEX, ns) if controller_ref(p) is None]
        manager = ControllerRefManager(
            self.api, rs, API_VERSION, KIND, lambda p: selector.matches(dict(p.metadata.labels))
        )
        pods = await manager.claim([p for p in candidates if is_active(p)])
        if needs_sync and not is_deleting(rs):
            await self._manage(key, rs, pods)
        return await self._update_status(rs, pods)

    async def _manage(self, key: str, rs: apps_pb2.ReplicaSet, pods: list[pod_pb2.Pod]) -> None:
        want = rs.spec.replicas if rs.spec.HasField("replicas") else 1
        diff = want - len(pods)
        if diff > 0:
            n = min(diff, BURST)
            self.expectations.expect_creations(key, n)
            ref = new_controller_ref(rs, API_VERSION, KIND)

            async def create_one() -> None:
                await self.ctx.pod_control.create_from_template(
                    rs.spec.template, rs, ref, namespace=rs.metadata.namespace
                )

            try:
                await slow_start_batch(n, SLOW_START_INITIAL, create_one)
            except BatchError as exc:
                # Creations that failed or were never tried will never be observed.
                for _ in range(n - exc.succeeded):
                    self.expectations.creation_observed(key)
                raise exc.cause from None
        elif diff < 0:
            victims = rank_pods_for_deletion(pods)[: min(-diff, BURST)]
            self.expectations.expect_deletions(key, [p.metadata.uid for p in victims])
            first_error: BaseException | None = None
            for pod in victims:
                try:
                    await self.ctx.pod_control.delete(pod, rs)
                except errors.SkiffError as exc:
                    self.expectations.deletion_observed(key, pod.metadata.uid)
                    first_error = first_error or exc
            if first_error is not None:
                raise first_error

    async def _update_status(self, rs: apps_pb2.ReplicaSet, pods: list[pod_pb2.Pod]) -> Result | None:
        template_labels = dict(rs.spec.template.metadata.labels)
        min_ready = rs.spec.min_ready_seconds
        st = apps_pb2.ReplicaSetStatus()
        st.CopyFrom(rs.status)
        st.replicas = len(pods)
        st.fully_labeled_replicas = sum(1 for p in pods if _has_labels(p, template_labels))
        st.ready_replicas = sum(1 for p in pods if is_ready(p))
        waits = [available_in(p, min_ready) for p in pods]
        st.available_replicas = sum(1 for w in waits if w is not None and w <= 0)
        st.observed_generation = rs.metadata.generation
        # A ready pod becomes available minReadySeconds later without any event: look again then.
        pending = [w for w in waits if w is not None and w > 0]
        result = Result(requeue_after=min(pending) + 0.1) if pending else None
        if st == rs.status:
            return result
        fresh = apps_pb2.ReplicaSet()
        fresh.CopyFrom(rs)
        fresh.status.CopyFrom(st)
        try:
            await self.api.update_status(fresh)
        except (errors.NotFound, errors.Conflict):
            # The cache was a step behind (e.g. our own write): the informer brings the newer object,
            # which enqueues it again.
            pass
        return result


def _has_labels(pod: pod_pb2.Pod, want: dict[str, Any]) -> bool:
    have = pod.metadata.labels
    return all(have.get(k) == v for k, v in want.items())


def new_replicaset(ctx: ControllerContext) -> ReplicaSetController:
    return ReplicaSetController(ctx)
