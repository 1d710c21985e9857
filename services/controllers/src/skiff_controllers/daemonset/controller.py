"""DaemonSet controller: one daemon pod on every eligible node, updated by RollingUpdate or OnDelete.

reconcile(ns/name):
    pods   = pods controlled by this DaemonSet (by UID), plus matching orphans adopted, minus owned
             pods that no longer match released; grouped by target node (placement.target_node)
    manage for each node (placement.should_run on the template with the daemon tolerations):
             should run, no pod            -> create one pinned to the node (the scheduler binds it)
             may keep, failed pods         -> delete them (FailedDaemonPod), a new one follows
             may keep, several pods        -> keep the oldest (except one old + one new while surging)
             may not keep                  -> delete its pods
             pods for nodes that are gone  -> delete (Kubernetes leaves this to its pod GC)
    rolling update (RollingUpdate only): rollout.plan decides which old pods go or get a surge pod
    status (status.py), written only when it changed

Creations and deletions are counted in expectations so a lagging informer never causes a second pod
for a node; a reconcile with outstanding expectations only refreshes status.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import object_key
from skiff_client.store import NAMESPACE_INDEX
from skiff_common import errors
from skiff_common.apimachinery import labels

from skiff_controllers.base import Controller, ControllerContext, Result, TerminalError
from skiff_controllers.daemonset import placement, revision, rollout
from skiff_controllers.daemonset.status import compute, is_available, is_ready
from skiff_controllers.replicaset.expectations import Expectations

OWNER_INDEX = "daemonset.controllerUID"
BURST = 250  # creations/deletions per reconcile (Kubernetes' burstReplicas for DaemonSets)


def controller_ref(obj: Any) -> meta_pb2.OwnerReference | None:
    for ref in obj.metadata.owner_references:
        if ref.HasField("controller") and ref.controller:
            return ref
    return None


def _owner_uid(pod: pod_pb2.Pod) -> list[str]:
    ref = controller_ref(pod)
    return [ref.uid] if ref is not None and ref.kind == "DaemonSet" else []


def _active(pod: pod_pb2.Pod) -> bool:
    return not pod.metadata.HasField("deletion_timestamp")


class DaemonSetController(Controller):
    name = "daemonset"
    workers = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.sets = ctx.factory.informer(apps_pb2.DaemonSet)
        self.pods = ctx.factory.informer(pod_pb2.Pod)
        self.nodes = ctx.factory.informer(node_pb2.Node)
        self.pods.add_indexer(OWNER_INDEX, _owner_uid)
        self.sets.add_handler(
            on_add=self._enqueue,
            on_update=lambda _o, n: self._enqueue(n),
            on_delete=lambda ds: self.expectations.forget(object_key(ds)),
        )
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)
        self.nodes.add_handler(
            on_add=lambda _n: self._enqueue_all(),
            on_update=self._node_updated,
            on_delete=lambda _n: self._enqueue_all(),
        )

    # -- handlers ------------------------------------------------------------------------------------------
    def _enqueue(self, ds: apps_pb2.DaemonSet) -> None:
        self.queue.add(object_key(ds))

    def _enqueue_all(self) -> None:
        for ds in self.sets.store.list():
            self._enqueue(ds)

    def _node_updated(self, old: node_pb2.Node, new: node_pb2.Node) -> None:
        if (
            old.metadata.labels != new.metadata.labels
            or old.spec.taints != new.spec.taints
            or old.spec.unschedulable != new.spec.unschedulable
        ):
            self._enqueue_all()

    def _owner_key(self, pod: pod_pb2.Pod) -> str | None:
        """The key of the DaemonSet controlling the pod, resolved by UID through the cache."""
        ref = controller_ref(pod)
        if ref is None or ref.kind != "DaemonSet":
            return None
        key = f"{pod.metadata.namespace}/{ref.name}"
        ds = self.sets.store.get(key)
        return key if ds is not None and ds.metadata.uid == ref.uid else None

    def _pod_added(self, pod: pod_pb2.Pod) -> None:
        if (key := self._owner_key(pod)) is not None:
            self.expectations.observed_add(key)
            self.queue.add(key)
        elif controller_ref(pod) is None:
            self._enqueue_matching(pod)

    def _pod_updated(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        for pod in (old, new) if controller_ref(old) != controller_ref(new) else (new,):
            if (key := self._owner_key(pod)) is not None:
                self.queue.add(key)
        if controller_ref(new) is None and old.metadata.labels != new.metadata.labels:
            self._enqueue_matching(new)

    def _pod_deleted(self, pod: pod_pb2.Pod) -> None:
        if (key := self._owner_key(pod)) is not None:
            self.expectations.observed_delete(key)
            self.queue.add(key)

    def _enqueue_matching(self, pod: pod_pb2.Pod) -> None:
        for ds in self.sets.store.by_index(NAMESPACE_INDEX, pod.metadata.namespace):
            try:
                sel = labels.selector_from_proto(ds.spec.selector)
            except ValueError:
                continue
            if not sel.empty() and sel.matches(dict(pod.metadata.labels)):
                self._enqueue(ds)

    # -- reconcile -----------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result | None:
        cached = self.sets.store.get(key)
        if cached is None:
            self.expectations.forget(key)
            return None
        ds: apps_pb2.DaemonSet = copy.deepcopy(cached)
        try:
            selector = labels.selector_from_proto(ds.spec.selector)
        except ValueError as exc:
            raise TerminalError(f"spec.selector: {exc}") from exc
        spec = pod_pb2.PodSpec()
        spec.CopyFrom(ds.spec.template.spec)
        placement.add_daemon_tolerations(spec)
        ds_hash = revision.template_hash(ds)
        pods = await self._claim(ds, selector)
        by_node: dict[str, list[pod_pb2.Pod]] = {}
        for pod in pods:
            if _active(pod):
                by_node.setdefault(placement.target_node(pod), []).append(pod)
        nodes = {n.metadata.name: n for n in self.nodes.store.list()}
        verdicts = {name: placement.should_run(spec, n) for name, n in nodes.items()}
        now = time.time()

        def updated(pod: pod_pb2.Pod) -> bool:
            return revision.is_updated(pod.metadata.labels, ds_hash, ds.metadata.generation)

        if self.expectations.satisfied(key) and not ds.metadata.HasField("deletion_timestamp"):
            create, delete = self._manage(ds, verdicts, by_node, updated)
            if ds.spec.update_strategy.type != "OnDelete":
                extra_create, extra_delete = self._roll(ds, verdicts, by_node, updated, now)
                create += [n for n in extra_create if n not in create]
                delete += [p for p in extra_delete if p not in delete]
            await self._sync(ds, create, delete, ds_hash)
        status = compute(ds, {n: v[0] for n, v in verdicts.items()}, by_node, updated, now)
        await self._write_status(ds, status)
        return self._min_ready_requeue(ds, pods, now)

    def _manage(
        self,
        ds: apps_pb2.DaemonSet,
        verdicts: dict[str, tuple[bool, bool]],
        by_node: dict[str, list[pod_pb2.Pod]],
        updated: Any,
    ) -> tuple[list[str], list[pod_pb2.Pod]]:
        create: list[str] = []
        delete: list[pod_pb2.Pod] = []
        surge = ds.spec.update_strategy.type == "RollingUpdate" and self._budgets(ds, verdicts)[1] > 0
        for node, (run, keep) in sorted(verdicts.items()):
            pods = by_node.get(node, [])
            if run and not pods:
                create.append(node)
            elif keep and pods:
                failed = [p for p in pods if p.status.phase == "Failed"]
                for p in failed:
                    self.ctx.events.record(
                        ds,
                        "Warning",
                        "FailedDaemonPod",
                        f"Found failed daemon pod {object_key(p)} on node {node}, will try to kill it",
                    )
                delete += failed
                running = sorted(
                    (p for p in pods if p.status.phase != "Failed"),
                    key=lambda p: (p.metadata.creation_timestamp.seconds, p.metadata.name),
                )
                if len(running) == 2 and surge and updated(running[0]) != updated(running[1]):
                    continue  # an old and a new pod side by side: the rolling update's business
                delete += running[1:]
            elif not keep and pods:
                delete += pods
        for node, pods in sorted(by_node.items()):
            if node not in verdicts:
                delete += pods  # its node is gone (or it never named one)
        return create, delete

    def _budgets(self, ds: apps_pb2.DaemonSet, verdicts: dict[str, tuple[bool, bool]]) -> tuple[int, int]:
        ru = ds.spec.update_strategy.rolling_update
        desired = sum(1 for run, _ in verdicts.values() if run)
        try:
            return rollout.budgets(
                ru.max_unavailable if ru.HasField("max_unavailable") else None,
                ru.max_surge if ru.HasField("max_surge") else None,
                desired,
            )
        except ValueError as exc:
            raise TerminalError(f"spec.updateStrategy.rollingUpdate: {exc}") from exc

    def _roll(
        self,
        ds: apps_pb2.DaemonSet,
        verdicts: dict[str, tuple[bool, bool]],
        by_node: dict[str, list[pod_pb2.Pod]],
        updated: Any,
        now: float,
    ) -> tuple[list[str], list[pod_pb2.Pod]]:
        max_unavailable, max_surge = self._budgets(ds, verdicts)
        nodes: dict[str, rollout.NodePods] = {}
        for node, (run, keep) in verdicts.items():
            if not (run or keep):
                continue
            live = [p for p in by_node.get(node, []) if p.status.phase != "Failed"]
            nodes[node] = rollout.NodePods(
                updated=[p for p in live if updated(p)], old=[p for p in live if not updated(p)]
            )
        plan = rollout.plan(
            nodes, lambda p: is_available(p, ds.spec.min_ready_seconds, now), max_unavailable, max_surge
        )
        return plan.surge_nodes, plan.delete

    async def _claim(self, ds: apps_pb2.DaemonSet, selector: Any) -> list[pod_pb2.Pod]:
        """Owned pods (by UID); adopt matching orphans, release owned pods that stopped matching."""
        owned = [
            p
            for p in self.pods.store.by_index(OWNER_INDEX, ds.metadata.uid)
            if p.metadata.namespace == ds.metadata.namespace
        ]
        if ds.metadata.HasField("deletion_timestamp") or selector.empty():
            return owned
        out: list[pod_pb2.Pod] = []
        for pod in owned:
            if selector.matches(dict(pod.metadata.labels)) or not _active(pod):
                out.append(pod)
                continue
            refs = [_ref_json(r) for r in pod.metadata.owner_references if r.uid != ds.metadata.uid]
            await self._patch_refs(pod, refs)  # released: no longer ours
        for pod in self.pods.store.by_index(NAMESPACE_INDEX, ds.metadata.namespace):
            if controller_ref(pod) is not None or not _active(pod) or not selector.matches(dict(pod.metadata.labels)):
                continue
            refs = [_ref_json(r) for r in pod.metadata.owner_references] + [_ref_json(self._new_ref(ds))]
            adopted = await self._patch_refs(pod, refs)
            if adopted is not None:
                out.append(adopted)
        return out

    async def _patch_refs(self, pod: pod_pb2.Pod, refs: list[dict[str, Any]]) -> pod_pb2.Pod | None:
        try:
            return await self.api.patch(
                pod_pb2.Pod,
                pod.metadata.name,
                pod.metadata.namespace,
                {"metadata": {"ownerReferences": refs}},
            )
        except (errors.NotFound, errors.Conflict, errors.Invalid):
            return None

    @staticmethod
    def _new_ref(ds: apps_pb2.DaemonSet) -> meta_pb2.OwnerReference:
        return meta_pb2.OwnerReference(
            api_version="apps/v1",
            kind="DaemonSet",
            name=ds.metadata.name,
            uid=ds.metadata.uid,
            controller=True,
            block_owner_deletion=True,
        )

    def _new_pod(self, ds: apps_pb2.DaemonSet, node: str, ds_hash: str) -> pod_pb2.Pod:
        tmpl = ds.spec.template
        pod = pod_pb2.Pod(api_version="v1", kind="Pod")
        pod.metadata.labels.update(tmpl.metadata.labels)
        pod.metadata.annotations.update(tmpl.metadata.annotations)
        pod.metadata.finalizers.extend(tmpl.metadata.finalizers)
        pod.metadata.labels[revision.HASH_LABEL] = ds_hash
        pod.metadata.labels[revision.GENERATION_LABEL] = str(ds.metadata.generation)
        pod.metadata.generate_name = f"{ds.metadata.name}-"
        pod.metadata.namespace = ds.metadata.namespace
        pod.metadata.owner_references.append(self._new_ref(ds))
        pod.spec.CopyFrom(tmpl.spec)
        placement.add_daemon_tolerations(pod.spec)
        placement.pin_to_node(pod.spec, node)
        return pod

    async def _sync(self, ds: apps_pb2.DaemonSet, create: list[str], delete: list[pod_pb2.Pod], ds_hash: str) -> None:
        key = object_key(ds)
        create, delete = create[:BURST], delete[:BURST]
        if not create and not delete:
            return
        self.expectations.expect(key, adds=len(create), dels=len(delete))
        for i, node in enumerate(create):
            try:
                pod = await self.api.create(self._new_pod(ds, node, ds_hash))
            except errors.SkiffError as exc:
                for _ in range(len(create) - i):
                    self.expectations.observed_add(key)
                self.ctx.events.record(ds, "Warning", "FailedCreate", f"Error creating: {exc}")
                raise
            self.ctx.events.record(ds, "Normal", "SuccessfulCreate", f"Created pod: {pod.metadata.name}")
        for pod in delete:
            try:
                await self.api.delete(
                    pod_pb2.Pod, pod.metadata.name, pod.metadata.namespace, preconditions_uid=pod.metadata.uid
                )
            except (errors.NotFound, errors.FailedPrecondition):
                self.expectations.observed_delete(key)
                continue
            self.ctx.events.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}")

    async def _write_status(self, ds: apps_pb2.DaemonSet, status: apps_pb2.DaemonSetStatus) -> None:
        if status == ds.status:
            return  # unchanged: no write
        ds.status.CopyFrom(status)
        try:
            await self.api.update_status(ds)
        except (errors.NotFound, errors.Conflict):
            pass  # a newer DaemonSet is on its way through the informer and enqueues this key again

    @staticmethod
    def _min_ready_requeue(ds: apps_pb2.DaemonSet, pods: list[pod_pb2.Pod], now: float) -> Result | None:
        """Come back when a ready pod becomes available (minReadySeconds), since no event will say so."""
        if ds.spec.min_ready_seconds <= 0:
            return None
        waits = []
        for p in pods:
            if is_ready(p) and not is_available(p, ds.spec.min_ready_seconds, now):
                since = next(c.last_transition_time.seconds for c in p.status.conditions if c.type == "Ready")
                waits.append(since + ds.spec.min_ready_seconds - now + 0.5)
        return Result(requeue_after=max(0.5, min(waits))) if waits else None


def _ref_json(r: meta_pb2.OwnerReference) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": r.api_version, "kind": r.kind, "name": r.name, "uid": r.uid}
    if r.HasField("controller"):
        out["controller"] = r.controller
    if r.HasField("block_owner_deletion"):
        out["blockOwnerDeletion"] = r.block_owner_deletion
    return out
