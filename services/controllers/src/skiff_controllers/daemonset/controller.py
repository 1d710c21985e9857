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
    history  the current template's ControllerRevision (history.py; created, or renumbered after a
             rollback); its controller-revision-hash tells updated pods from old ones
    rolling update (RollingUpdate only): rollout.plan decides which old pods go or get a surge pod
    cleanup  old ControllerRevisions beyond revisionHistoryLimit that no live pod runs
    status (status.py), written only when it changed

Built on the controller kit: ``ControllerBuilder`` wires DaemonSets, owned pods (by controller UID) and
orphans; ``ControllerRefManager`` adopts and releases; ``PodControl`` creates and deletes with Events;
``Expectations`` (creations counted, deletions by UID) keep a lagging informer from causing a second pod
for a node, and a reconcile with outstanding expectations only refreshes status.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from skiff.api.apps.v1 import apps_pb2
from skiff.api.apps.v1.controllerrevision_pb2 import ControllerRevision
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_client import object_key
from skiff_client.controller import (
    CONTROLLER_UID_INDEX,
    ControllerBuilder,
    ControllerRefManager,
    Expectations,
    Result,
    TerminalError,
    WorkLoop,
    available_in,
    controller_ref,
    is_available,
    is_deleting,
    new_controller_ref,
)
from skiff_client.controller.podevents import PodExpectationsFeed, orphan_adopters
from skiff_client.store import NAMESPACE_INDEX
from skiff_common import errors
from skiff_common.apimachinery import labels

from skiff_controllers.base import ControllerContext
from skiff_controllers.daemonset import placement, revision, rollout
from skiff_controllers.daemonset.history import History
from skiff_controllers.daemonset.status import compute

NAME = "daemonset"
KIND = "DaemonSet"
API_VERSION = "apps/v1"
BURST = 250  # creations/deletions per reconcile (Kubernetes' burstReplicas for DaemonSets)

Verdicts = dict[str, tuple[bool, bool]]  # node -> (should run a new pod, may keep a running one)
ByNode = dict[str, list[pod_pb2.Pod]]


class DaemonSetController:
    def __init__(self, ctx: ControllerContext, workers: int = 2) -> None:
        self.ctx = ctx
        self.api = ctx.api
        self.expectations = Expectations()
        self.sets = ctx.factory.informer(apps_pb2.DaemonSet)
        self.pods = ctx.factory.informer(pod_pb2.Pod)
        self.nodes = ctx.factory.informer(node_pb2.Node)
        self.history = History(self.api, ctx.factory.informer(ControllerRevision))
        self.loop: WorkLoop = (
            ControllerBuilder(NAME, ctx.factory)
            .for_(apps_pb2.DaemonSet)
            .owns(pod_pb2.Pod)
            .owns(ControllerRevision)
            .watches(pod_pb2.Pod, lambda pod: orphan_adopters(pod, self.sets))
            .workers(workers)
            .complete(self.reconcile)
        )
        self.queue = self.loop.queue
        PodExpectationsFeed(self.sets, KIND, self.expectations).attach(self.pods)
        # Not a builder watch: heartbeats change every node every few seconds, and only changes to
        # labels, taints or cordoning can change where daemons run.
        self.nodes.add_handler(
            on_add=lambda _n: self._enqueue_all(),
            on_update=self._node_updated,
            on_delete=lambda _n: self._enqueue_all(),
        )

    async def run(self) -> None:
        await self.loop.run()

    def _enqueue_all(self) -> None:
        for ds in self.sets.store.list():
            self.loop.enqueue(object_key(ds))

    def _node_updated(self, old: node_pb2.Node, new: node_pb2.Node) -> None:
        if (
            old.metadata.labels != new.metadata.labels
            or old.spec.taints != new.spec.taints
            or old.spec.unschedulable != new.spec.unschedulable
        ):
            self._enqueue_all()

    # -- reconcile -----------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result | None:
        ds = self.sets.store.get(key)
        if ds is None:
            self.expectations.delete(key)
            return None
        try:
            selector = labels.selector_from_proto(ds.spec.selector)
        except ValueError as exc:
            raise TerminalError(f"spec.selector: {exc}") from exc
        if selector.empty():
            raise TerminalError("spec.selector: an empty selector would select every pod")
        needs_sync = self.expectations.satisfied(key)
        spec = pod_pb2.PodSpec()
        spec.CopyFrom(ds.spec.template.spec)
        placement.add_daemon_tolerations(spec)
        old_revisions: list[ControllerRevision] = []
        if is_deleting(ds):
            ds_hash = revision.template_hash(ds)
        else:
            current, old_revisions = await self.history.construct(ds, selector)
            ds_hash = current.metadata.labels[revision.HASH_LABEL]
        ns = ds.metadata.namespace
        candidates = [
            p for p in self.pods.store.by_index(CONTROLLER_UID_INDEX, ds.metadata.uid) if p.metadata.namespace == ns
        ]
        candidates += [p for p in self.pods.store.by_index(NAMESPACE_INDEX, ns) if controller_ref(p) is None]
        manager = ControllerRefManager(
            self.api, ds, API_VERSION, KIND, lambda p: selector.matches(dict(p.metadata.labels))
        )
        pods = await manager.claim([p for p in candidates if not is_deleting(p)])
        by_node: ByNode = {}
        for pod in pods:
            by_node.setdefault(placement.target_node(pod), []).append(pod)
        verdicts: Verdicts = {n.metadata.name: placement.should_run(spec, n) for n in self.nodes.store.list()}
        now = time.time()

        def updated(pod: pod_pb2.Pod) -> bool:
            return revision.is_updated(pod.metadata.labels, ds_hash, ds.metadata.generation)

        if needs_sync and not is_deleting(ds):
            create, delete = self._manage(ds, verdicts, by_node, updated)
            if ds.spec.update_strategy.type != "OnDelete":
                surge_nodes, replace = self._roll(ds, verdicts, by_node, updated, now)
                create += [n for n in surge_nodes if n not in create]
                delete += [p for p in replace if p not in delete]
            await self._sync(key, ds, create[:BURST], delete[:BURST], ds_hash)
            await self.history.cleanup(ds, old_revisions, pods)
        status = compute(ds, {n: v[0] for n, v in verdicts.items()}, by_node, updated, now)
        await self._write_status(ds, status)
        return self._min_ready_requeue(ds, pods, now)

    def _manage(
        self, ds: apps_pb2.DaemonSet, verdicts: Verdicts, by_node: ByNode, updated: Callable[[pod_pb2.Pod], bool]
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
                delete += pods  # its node is gone (Kubernetes leaves this to its pod GC)
        return create, delete

    @staticmethod
    def _budgets(ds: apps_pb2.DaemonSet, verdicts: Verdicts) -> tuple[int, int]:
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
        verdicts: Verdicts,
        by_node: ByNode,
        updated: Callable[[pod_pb2.Pod], bool],
        now: float,
    ) -> tuple[list[str], list[pod_pb2.Pod]]:
        max_unavailable, max_surge = self._budgets(ds, verdicts)
        nodes: dict[str, rollout.NodePods] = {}
        for node, (run, keep) in verdicts.items():
            if run or keep:
                live = [p for p in by_node.get(node, []) if p.status.phase != "Failed"]
                nodes[node] = rollout.NodePods(
                    updated=[p for p in live if updated(p)], old=[p for p in live if not updated(p)]
                )
        plan = rollout.plan(
            nodes, lambda p: is_available(p, ds.spec.min_ready_seconds, now), max_unavailable, max_surge
        )
        return plan.surge_nodes, plan.delete

    async def _sync(
        self, key: str, ds: apps_pb2.DaemonSet, create: list[str], delete: list[pod_pb2.Pod], ds_hash: str
    ) -> None:
        if delete:
            self.expectations.expect_deletions(key, [p.metadata.uid for p in delete])
            for pod in delete:
                try:
                    await self.ctx.pod_control.delete(pod, ds)
                except errors.SkiffError:
                    self.expectations.deletion_observed(key, pod.metadata.uid)
                    raise
        if create:
            self.expectations.expect_creations(key, len(create))
            ref = new_controller_ref(ds, API_VERSION, KIND)
            for i, node in enumerate(create):
                try:
                    await self.ctx.pod_control.create_from_template(
                        ds.spec.template,
                        ds,
                        ref,
                        namespace=ds.metadata.namespace,
                        mutate=lambda pod, node=node: _daemon_pod(pod, ds, node, ds_hash),  # type: ignore[misc]
                    )
                except errors.SkiffError:
                    for _ in range(len(create) - i):
                        self.expectations.creation_observed(key)  # never to be seen
                    raise

    async def _write_status(self, ds: apps_pb2.DaemonSet, status: apps_pb2.DaemonSetStatus) -> None:
        if status == ds.status:
            return  # unchanged: no write
        fresh = apps_pb2.DaemonSet()
        fresh.CopyFrom(ds)
        fresh.status.CopyFrom(status)
        try:
            await self.api.update_status(fresh)
        except (errors.NotFound, errors.Conflict):
            pass  # a newer DaemonSet is on its way through the informer and enqueues this key again

    @staticmethod
    def _min_ready_requeue(ds: apps_pb2.DaemonSet, pods: list[pod_pb2.Pod], now: float) -> Result | None:
        """A ready pod becomes available minReadySeconds later without any event: look again then."""
        waits = [w for w in (available_in(p, ds.spec.min_ready_seconds, now) for p in pods) if w is not None and w > 0]
        return Result(requeue_after=min(waits) + 0.1) if waits else None


def _daemon_pod(pod: pod_pb2.Pod, ds: apps_pb2.DaemonSet, node: str, ds_hash: str) -> None:
    """What a daemon pod has beyond its template: revision labels, daemon tolerations, node pinning."""
    pod.metadata.labels[revision.HASH_LABEL] = ds_hash
    pod.metadata.labels[revision.GENERATION_LABEL] = str(ds.metadata.generation)
    placement.add_daemon_tolerations(pod.spec)
    placement.pin_to_node(pod.spec, node)


def new_daemonset(ctx: ControllerContext) -> DaemonSetController:
    return DaemonSetController(ctx)
