"""ReplicaSet controller: keep ``spec.replicas`` pods matching the template alive.

reconcile(ns/name):
    owned  = active pods in the namespace whose controller ownerReference is this ReplicaSet
    diff   = replicas - len(owned)
    diff>0 -> create diff pods from the template (generateName "<rs>-", controller ownerReference)
    diff<0 -> delete the surplus, least valuable first (unscheduled < pending < not ready < ready)
    status -> replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration

Active means not terminating and not Succeeded/Failed. Orphans matching the selector are not adopted
yet (a documented gap). Expectations (expectations.py) stop double creation while the informer lags.
"""

from __future__ import annotations

import copy
from typing import Any

from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import object_key
from skiff_client.store import NAMESPACE_INDEX
from skiff_common import errors
from skiff_common.apimachinery import labels

from skiff_controllers.base import Controller, ControllerContext, Result, TerminalError
from skiff_controllers.replicaset.expectations import Expectations

OWNER_INDEX = "controllerUID"
BURST = 100  # at most this many creates/deletes per reconcile (Kubernetes' burstReplicas)


def controller_ref(obj: Any) -> meta_pb2.OwnerReference | None:
    for ref in obj.metadata.owner_references:
        if ref.HasField("controller") and ref.controller:
            return ref
    return None


def owner_index(pod: pod_pb2.Pod) -> list[str]:
    ref = controller_ref(pod)
    return [ref.uid] if ref is not None else []


def is_active(pod: pod_pb2.Pod) -> bool:
    return not pod.metadata.HasField("deletion_timestamp") and pod.status.phase not in ("Succeeded", "Failed")


def is_ready(pod: pod_pb2.Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: pod_pb2.Pod) -> tuple[int, int, int, int, int]:
    """Lower sorts first = deleted first, in Kubernetes' order: unscheduled, then pending, then
    not ready, then the most restarted, then the newest (so an adopted older pod survives)."""
    restarts = max((s.restart_count for s in pod.status.container_statuses), default=0)
    created = pod.metadata.creation_timestamp
    return (
        1 if pod.spec.node_name else 0,
        PHASE_RANK.get(pod.status.phase, 0),
        1 if is_ready(pod) else 0,
        -restarts,
        -(created.seconds * 1_000_000_000 + created.nanos),
    )


def pod_from_template(rs: apps_pb2.ReplicaSet) -> pod_pb2.Pod:
    tmpl = rs.spec.template
    pod = pod_pb2.Pod(api_version="v1", kind="Pod")
    pod.metadata.CopyFrom(tmpl.metadata)
    pod.metadata.name = ""
    pod.metadata.generate_name = f"{rs.metadata.name}-"
    pod.metadata.namespace = rs.metadata.namespace
    pod.metadata.owner_references.append(
        meta_pb2.OwnerReference(
            api_version="apps/v1",
            kind="ReplicaSet",
            name=rs.metadata.name,
            uid=rs.metadata.uid,
            controller=True,
            block_owner_deletion=True,
        )
    )
    pod.spec.CopyFrom(tmpl.spec)
    return pod


class ReplicaSetController(Controller):
    name = "replicaset"
    workers = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.rs = ctx.factory.informer(apps_pb2.ReplicaSet)
        self.pods = ctx.factory.informer(pod_pb2.Pod)
        self.pods.add_indexer(OWNER_INDEX, owner_index)
        self.rs.add_handler(
            on_add=self._enqueue,
            on_update=lambda _o, n: self._enqueue(n),
            on_delete=lambda rs: self.expectations.forget(object_key(rs)),
        )
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)

    def _enqueue(self, rs: apps_pb2.ReplicaSet) -> None:
        self.queue.add(object_key(rs))

    def _owner_key(self, pod: pod_pb2.Pod) -> str | None:
        ref = controller_ref(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return None
        return f"{pod.metadata.namespace}/{ref.name}"

    def _pod_added(self, pod: pod_pb2.Pod) -> None:
        if (key := self._owner_key(pod)) is not None:
            self.expectations.observed_add(key)
            self.queue.add(key)
        elif controller_ref(pod) is None:
            self._enqueue_adopters(pod)

    def _enqueue_adopters(self, pod: pod_pb2.Pod) -> None:
        """An orphan: wake every ReplicaSet of its namespace whose selector matches it."""
        for rs in self.rs.store.by_index(NAMESPACE_INDEX, pod.metadata.namespace):
            try:
                selector = labels.selector_from_proto(rs.spec.selector)
            except ValueError:
                continue
            if not selector.empty() and selector.matches(dict(pod.metadata.labels)):
                self.queue.add(object_key(rs))

    def _pod_updated(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        if (key := self._owner_key(new)) is not None:
            self.queue.add(key)
        elif controller_ref(new) is None and old.metadata.labels != new.metadata.labels:
            self._enqueue_adopters(new)

    def _pod_deleted(self, pod: pod_pb2.Pod) -> None:
        if (key := self._owner_key(pod)) is not None:
            self.expectations.observed_delete(key)
            self.queue.add(key)

    async def reconcile(self, key: str) -> Result | None:
        cached = self.rs.store.get(key)
        if cached is None:
            self.expectations.forget(key)
            return None
        rs = copy.deepcopy(cached)
        try:
            selector = labels.selector_from_proto(rs.spec.selector)
        except ValueError as exc:
            raise TerminalError(f"spec.selector: {exc}") from exc
        owned = [
            p
            for p in self.pods.store.by_index(OWNER_INDEX, rs.metadata.uid)
            if p.metadata.namespace == rs.metadata.namespace
        ]
        if not rs.metadata.HasField("deletion_timestamp"):
            owned += await self._adopt_orphans(rs, selector)
        active = [p for p in owned if is_active(p)]
        if self.expectations.satisfied(key) and not rs.metadata.HasField("deletion_timestamp"):
            await self._scale(rs, active)
        await self._update_status(rs, owned, active, selector)
        return None

    async def _adopt_orphans(self, rs: apps_pb2.ReplicaSet, selector: Any) -> list[pod_pb2.Pod]:
        """Claim active pods that match the selector and have no controller (Kubernetes' adoption)."""
        if selector.empty():
            return []  # an empty selector would match everything: never adopt with it
        adopted = []
        for pod in self.pods.store.by_index(NAMESPACE_INDEX, rs.metadata.namespace):
            if controller_ref(pod) is not None or not is_active(pod):
                continue
            if not selector.matches(dict(pod.metadata.labels)):
                continue
            refs = [
                {"apiVersion": r.api_version, "kind": r.kind, "name": r.name, "uid": r.uid}
                for r in pod.metadata.owner_references
            ]
            refs.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": rs.metadata.name,
                    "uid": rs.metadata.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            )
            try:
                patched = await self.api.patch(
                    pod_pb2.Pod,
                    pod.metadata.name,
                    pod.metadata.namespace,
                    {"metadata": {"ownerReferences": refs}},
                )
            except errors.NotFound:
                continue
            adopted.append(patched)
        return adopted

    async def _scale(self, rs: apps_pb2.ReplicaSet, active: list[pod_pb2.Pod]) -> None:
        key = object_key(rs)
        want = rs.spec.replicas if rs.spec.HasField("replicas") else 1
        diff = want - len(active)
        if diff > 0:
            n = min(diff, BURST)
            self.expectations.expect(key, adds=n)
            for i in range(n):
                try:
                    pod = await self.api.create(pod_from_template(rs))
                except errors.SkiffError as exc:
                    # Lower the expectation for the creations that never happened.
                    for _ in range(n - i):
                        self.expectations.observed_add(key)
                    self.ctx.events.record(rs, "Warning", "FailedCreate", f"Error creating: {exc}")
                    raise
                self.ctx.events.record(rs, "Normal", "SuccessfulCreate", f"Created pod: {pod.metadata.name}")
        elif diff < 0:
            victims = sorted(active, key=deletion_rank)[: min(-diff, BURST)]
            self.expectations.expect(key, dels=len(victims))
            for pod in victims:
                try:
                    await self.api.delete(pod_pb2.Pod, pod.metadata.name, pod.metadata.namespace)
                except errors.NotFound:
                    self.expectations.observed_delete(key)
                    continue
                self.ctx.events.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}")

    async def _update_status(
        self, rs: apps_pb2.ReplicaSet, owned: list[pod_pb2.Pod], active: list[pod_pb2.Pod], selector: Any
    ) -> None:
        st = apps_pb2.ReplicaSetStatus()
        st.CopyFrom(rs.status)
        st.replicas = len(active)
        st.fully_labeled_replicas = sum(1 for p in active if selector.matches(dict(p.metadata.labels)))
        st.ready_replicas = sum(1 for p in active if is_ready(p))
        st.available_replicas = st.ready_replicas  # minReadySeconds not tracked yet
        st.observed_generation = rs.metadata.generation
        if st == rs.status:
            return
        rs.status.CopyFrom(st)
        try:
            await self.api.update_status(rs)
        except errors.NotFound:
            pass
        except errors.Conflict:
            # The cache was a step behind (e.g. our own scale write): the informer brings the newer
            # ReplicaSet, which enqueues it again. Not an error worth a warning.
            pass
