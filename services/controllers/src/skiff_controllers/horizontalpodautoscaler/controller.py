"""HorizontalPodAutoscaler controller (autoscaling/v2), Kubernetes' reconcileAutoscaler.

    every --horizontal-pod-autoscaler-sync-period (15 s) per HPA, and on any change of it:
      GET scale of spec.scaleTargetRef (any kind with a scale subresource)   -> AbleToScale
      replicas 0 (and minReplicas > 0): ScalingActive False ScalingDisabled, nothing else
      outside [min, max]: clamp;  else for each metric a proposal (metrics.py; Object and External:
                                  objectmetrics.py), the largest wins
                                                                            -> ScalingActive
      stabilize + rate-limit (behavior.py)                                  -> AbleToScale, ScalingLimited
      UPDATE scale when it changes: SuccessfulRescale (or FailedRescale) Event, lastScaleTime
      status: currentReplicas, desiredReplicas, currentMetrics, conditions, written only when changed

Recommendations and scale events are kept in memory per HPA as in Kubernetes: a restarted controller
starts a fresh stabilization window, which can only delay a scale-down.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_client.controller import ControllerBuilder, Result
from skiff_common import errors
from skiff_common.apimachinery.kinds import lookup_kind
from skiff_common.apimachinery.labels import parse_selector
from skiff_common.observability import get_logger

from skiff_controllers.base import ControllerContext
from skiff_controllers.horizontalpodautoscaler import behavior as B
from skiff_controllers.horizontalpodautoscaler.metrics import MetricFailure, compute
from skiff_controllers.horizontalpodautoscaler.metrics_client import ResourceMetricsClient
from skiff_controllers.horizontalpodautoscaler.objectmetrics import (
    Fetched,
    ObjectValue,
    external_key,
    metric_selector,
    object_key,
)  # fmt: skip
from skiff_controllers.horizontalpodautoscaler.replicas import Calculator, MetricsError, PodMetric

log = get_logger(__name__)


def set_condition(
    hpa: hpa_pb2.HorizontalPodAutoscaler, type_: str, status: str, reason: str, message: str, now: float
) -> None:
    for c in hpa.status.conditions:
        if c.type == type_:
            if c.status != status:
                c.last_transition_time.FromSeconds(int(now))
            c.status, c.reason, c.message = status, reason, message
            return
    c = hpa.status.conditions.add(type=type_, status=status, reason=reason, message=message)
    c.last_transition_time.FromSeconds(int(now))


def default_metrics(spec: hpa_pb2.HorizontalPodAutoscalerSpec) -> list[hpa_pb2.MetricSpec]:
    """autoscaling/v2's default: CPU at 80 % of requests."""
    if spec.metrics:
        return list(spec.metrics)
    m = hpa_pb2.MetricSpec(type="Resource")
    m.resource.name = "cpu"
    m.resource.target.type = "Utilization"
    m.resource.target.average_utilization = 80
    return [m]


class HorizontalPodAutoscalerController:
    name = "horizontalpodautoscaler"
    workers = 2

    def __init__(self, ctx: ControllerContext, clock: Callable[[], float] = time.time) -> None:
        cfg = ctx.config
        self.api, self.events, self.clock = ctx.api, ctx.events, clock
        self.sync_period = cfg.horizontal_pod_autoscaler_sync_period
        self.downscale_window = cfg.horizontal_pod_autoscaler_downscale_stabilization
        self.calc = Calculator(
            tolerance=cfg.horizontal_pod_autoscaler_tolerance,
            cpu_initialization_period=cfg.horizontal_pod_autoscaler_cpu_initialization_period,
            initial_readiness_delay=cfg.horizontal_pod_autoscaler_initial_readiness_delay,
        )
        self.metrics = ResourceMetricsClient(cfg.metrics_api_server, cfg.tls(), token=ctx.bearer_token)
        self.hpas = ctx.factory.informer(hpa_pb2.HorizontalPodAutoscaler)
        self.pods = ctx.factory.informer(pod_pb2.Pod)
        self.history: dict[str, B.History] = {}
        self.loop = (
            ControllerBuilder(self.name, ctx.factory)
            .for_(hpa_pb2.HorizontalPodAutoscaler)
            .workers(self.workers)
            .complete(self.reconcile)
        )

    async def reconcile(self, key: str) -> Result | None:
        cached = self.hpas.store.get(key)
        if cached is None:
            self.history.pop(key, None)
            return None
        hpa = copy.deepcopy(cached)
        try:
            await self._reconcile(key, hpa, self.clock())
        finally:
            if hpa.status != cached.status:
                try:
                    await self.api.update_status(hpa)
                except errors.Conflict:
                    log.debug("hpa.stale_cache", key=key)  # the newer object's event brings the key back
        return Result(requeue_after=self.sync_period)

    async def _scale(self, hpa: hpa_pb2.HorizontalPodAutoscaler, now: float) -> tuple[str, Any] | None:
        ref = hpa.spec.scale_target_ref
        try:
            info = lookup_kind(ref.api_version, ref.kind)
            if "scale" not in info.subresources:
                raise errors.NotFound(f'{info.resource} "{ref.name}" has no scale subresource')
            return info.resource, await self.api.get_scale(info.resource, ref.name, hpa.metadata.namespace)
        except (errors.NotFound, errors.Invalid) as exc:
            message = getattr(exc, "message", str(exc))
            self.events.record(hpa, "Warning", "FailedGetScale", message)
            text = f"the HPA controller was unable to get the target's current scale: {message}"
            set_condition(hpa, "AbleToScale", "False", "FailedGetScale", text, now)
            return None

    async def _reconcile(self, key: str, hpa: hpa_pb2.HorizontalPodAutoscaler, now: float) -> None:
        found = await self._scale(hpa, now)
        if found is None:
            return
        resource, scale = found
        set_condition(hpa, "AbleToScale", "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", now)  # fmt: skip
        spec = hpa.spec
        current = scale.spec.replicas
        min_replicas = spec.min_replicas if spec.HasField("min_replicas") else 1
        statuses: list[hpa_pb2.MetricStatus] = list(hpa.status.current_metrics)
        desired, reason, rescale = 0, "", True
        if current == 0 and min_replicas != 0:
            rescale = False
            set_condition(hpa, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now)  # fmt: skip
        elif current > spec.max_replicas:
            desired, reason = spec.max_replicas, "Current number of replicas above Spec.MaxReplicas"
        elif current < min_replicas:
            desired, reason = min_replicas, "Current number of replicas below Spec.MinReplicas"
        else:
            proposal = await self._replicas_for_metrics(hpa, scale, now)
            if proposal is None:
                self._set_status(hpa, current, hpa.status.desired_replicas, None, False, now)
                return
            metric_replicas, metric_name, statuses = proposal
            desired = max(desired, metric_replicas)
            if desired > current:
                reason = f"{metric_name} above target"
            elif desired < current:
                reason = "All metrics below target"
            desired = self._normalize(key, hpa, current, desired, min_replicas, now)
            rescale = desired != current
        if rescale:
            try:
                await self._update_scale(resource, scale, hpa.metadata.namespace, current, desired)
            except errors.SkiffError as exc:
                self.events.record(hpa, "Warning", "FailedRescale",
                                   f"New size: {desired}; reason: {reason}; error: {exc.message}")  # fmt: skip
                text = f"the HPA controller was unable to update the target scale: {exc.message}"
                set_condition(hpa, "AbleToScale", "False", "FailedUpdateScale", text, now)
                self._set_status(hpa, current, hpa.status.desired_replicas, statuses, False, now)
                raise
            set_condition(hpa, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now)  # fmt: skip
            self.events.record(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            B.store_event(self.history.setdefault(key, B.History()), B.default_behavior(spec), current, desired, now)
            log.info("hpa.rescaled", hpa=key, current=current, desired=desired, reason=reason)
        else:
            desired = current
        self._set_status(hpa, current, desired, statuses, rescale, now)

    async def _update_scale(self, resource: str, scale: Any, namespace: str, current: int, desired: int) -> None:
        """UPDATE the scale; a Conflict caused by a status write of the target (its controller) is retried
        with a fresh read as long as nobody else changed the replica count we based the decision on."""
        for attempt in range(3):
            scale.spec.replicas = desired
            try:
                await self.api.update_scale(resource, scale)
                return
            except errors.Conflict:
                fresh = await self.api.get_scale(resource, scale.metadata.name, namespace)
                if fresh.spec.replicas != current or attempt == 2:
                    raise
                scale = fresh

    async def _replicas_for_metrics(
        self, hpa: hpa_pb2.HorizontalPodAutoscaler, scale: Any, now: float
    ) -> tuple[int, str, list[hpa_pb2.MetricStatus]] | None:
        if not scale.status.selector:
            self.events.record(hpa, "Warning", "SelectorRequired", "selector is required")
            set_condition(
                hpa, "ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector", now
            )
            return None
        try:
            selector = parse_selector(scale.status.selector)
        except (ValueError, errors.SkiffError) as exc:
            self.events.record(hpa, "Warning", "InvalidSelector", str(exc))
            set_condition(hpa, "ScalingActive", "False", "InvalidSelector",
                          f"the HPA target's scale has an invalid selector: {exc}", now)  # fmt: skip
            return None
        ns = hpa.metadata.namespace
        pods = [p for p in self.pods.store.list() if p.metadata.namespace == ns and selector.matches(p.metadata.labels)]
        specs = default_metrics(hpa.spec)
        items: list[dict[str, Any]] | MetricsError = []
        if any(s.type in ("Resource", "ContainerResource") for s in specs):
            try:
                items = await self.metrics.pod_metrics(ns, scale.status.selector)
            except MetricsError as exc:
                items = exc
        custom: dict[str, dict[str, PodMetric] | MetricsError] = {}
        for name in {s.pods.metric.name for s in specs if s.type == "Pods"}:
            try:
                custom[name] = await self.metrics.custom_pod_metric(ns, name, scale.status.selector)
            except MetricsError as exc:
                custom[name] = exc
        fetched = await self._fetch_single_values(ns, specs)
        current = scale.spec.replicas
        best, best_name = 0, ""
        statuses: list[hpa_pb2.MetricStatus] = []
        failures: list[MetricFailure] = []
        for spec in specs:
            try:
                proposal = compute(spec, current, pods, items, self.calc, now, custom, fetched=fetched,
                                   status_replicas=scale.status.replicas, namespace=ns)  # fmt: skip
            except MetricFailure as failure:
                self.events.record(hpa, "Warning", failure.reason, failure.cause)
                failures.append(failure)
                statuses.append(hpa_pb2.MetricStatus())
                continue
            statuses.append(proposal.status)
            if best == 0 or proposal.replicas > best:
                best, best_name = proposal.replicas, proposal.name
        statuses = [s for s in statuses if s.type]
        if failures and (len(failures) >= len(specs) or best < current):
            first = failures[0]
            set_condition(hpa, "ScalingActive", "False", first.reason,
                          f"the HPA was unable to compute the replica count: {first.cause}", now)  # fmt: skip
            message = f"invalid metrics ({len(failures)} invalid out of {len(specs)}), first error is: {first}"
            self.events.record(hpa, "Warning", "FailedComputeMetricsReplicas", message)
            hpa.status.ClearField("current_metrics")
            hpa.status.current_metrics.extend(statuses)
            return None
        if failures:
            message = f"invalid metrics ({len(failures)} invalid out of {len(specs)}), first error is: {failures[0]}"
            self.events.record(hpa, "Warning", "FailedComputeMetricsReplicas", message)
        set_condition(hpa, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {best_name}", now)  # fmt: skip
        return best, best_name, statuses

    async def _fetch_single_values(self, ns: str, specs: list[hpa_pb2.MetricSpec]) -> Fetched:
        """Object metrics from custom.metrics.k8s.io, External ones from external.metrics.k8s.io, each
        asked once per sync (objectmetrics.py computes their proposals)."""
        fetched: Fetched = {}
        for spec in specs:
            if spec.type not in ("Object", "External"):
                continue
            key = object_key(spec) if spec.type == "Object" else external_key(spec)
            if key in fetched:
                continue
            try:
                if spec.type == "Object":
                    ref, metric = spec.object.described_object, spec.object.metric
                    fetched[key] = ObjectValue(await self.metrics.object_metric(
                        ns, ref.api_version, ref.kind, ref.name, metric.name, metric_selector(metric)
                    ))  # fmt: skip
                else:
                    metric = spec.external.metric
                    fetched[key] = await self.metrics.external_metric(ns, metric.name, metric_selector(metric))
            except ValueError as exc:  # a bad metric selector
                fetched[key] = MetricsError(str(exc))
            except MetricsError as exc:
                fetched[key] = exc
        return fetched

    def _normalize(
        self, key: str, hpa: hpa_pb2.HorizontalPodAutoscaler, current: int, desired: int, min_replicas: int, now: float
    ) -> int:
        history = self.history.setdefault(key, B.History())
        rules = B.default_behavior(hpa.spec)
        if rules is None:
            stabilized = B.stabilize_legacy(history, desired, now, self.downscale_window)
            if stabilized != desired:
                set_condition(hpa, "AbleToScale", "True", "ScaleDownStabilized",
                              "recent recommendations were higher than current one, applying the highest recent "
                              "recommendation", now)  # fmt: skip
            else:
                set_condition(
                    hpa, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", now
                )
            final, reason, message = B.limit_legacy(current, stabilized, min_replicas, hpa.spec.max_replicas)
        else:
            stabilized, reason, message = B.stabilize(history, current, desired, rules, now, self.downscale_window)
            if stabilized != desired:
                set_condition(hpa, "AbleToScale", "True", reason, message, now)
            else:
                set_condition(
                    hpa, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", now
                )
            final, reason, message = B.limit_rate(
                history, current, stabilized, min_replicas, hpa.spec.max_replicas, rules, now
            )
        set_condition(hpa, "ScalingLimited", "True" if final != stabilized else "False", reason, message, now)
        return final

    @staticmethod
    def _set_status(
        hpa: hpa_pb2.HorizontalPodAutoscaler, current: int, desired: int,
        statuses: list[hpa_pb2.MetricStatus] | None, rescaled: bool, now: float,
    ) -> None:  # fmt: skip
        st = hpa.status
        st.current_replicas, st.desired_replicas = current, desired
        st.observed_generation = hpa.metadata.generation
        if statuses is not None:
            st.ClearField("current_metrics")
            st.current_metrics.extend(statuses)
        if rescaled:
            st.last_scale_time.CopyFrom(Timestamp(seconds=int(now)))


def new_horizontalpodautoscaler(ctx: ControllerContext) -> HorizontalPodAutoscalerController:
    return HorizontalPodAutoscalerController(ctx)
