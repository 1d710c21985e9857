"""DaemonSet status counts, as Kubernetes computes them (updateDaemonSetStatus).

For each node: if the daemon should run there it is *desired*; if it has a daemon pod it is
*current*, and the oldest such pod decides *ready*, *available* (ready for minReadySeconds) and
*updated* (template hash matches). A daemon pod on a node where no new one would be started is
*misscheduled* (it may still be kept, e.g. on a node tainted NoSchedule after it started).
"""

from __future__ import annotations

from collections.abc import Callable

from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_client.controller import is_available, is_ready


def compute(
    ds: apps_pb2.DaemonSet,
    should_run: dict[str, bool],
    pods_by_node: dict[str, list[pod_pb2.Pod]],
    updated: Callable[[pod_pb2.Pod], bool],
    now: float,
) -> apps_pb2.DaemonSetStatus:
    st = apps_pb2.DaemonSetStatus()
    st.CopyFrom(ds.status)
    desired = current = ready = available = up_to_date = misscheduled = 0
    for node, run in should_run.items():
        pods = sorted(pods_by_node.get(node, []), key=lambda p: p.metadata.creation_timestamp.seconds)
        if run:
            desired += 1
            if pods:
                current += 1
                first = pods[0]
                ready += is_ready(first)
                available += is_available(first, ds.spec.min_ready_seconds, now)
                up_to_date += updated(first)
        elif pods:
            misscheduled += 1
    st.desired_number_scheduled = desired
    st.current_number_scheduled = current
    st.number_ready = ready
    st.number_available = available
    st.number_unavailable = max(0, desired - available)
    st.updated_number_scheduled = up_to_date
    st.number_misscheduled = misscheduled
    st.observed_generation = ds.metadata.generation
    return st
