"""What the Job controller writes on pods: the shape of a new pod, and the tracking finalizer's removal.

A new pod carries the ``batch.kubernetes.io/job-tracking`` finalizer from birth, so it cannot vanish
before its completion is counted. An Indexed Job's pod also gets, as in Kubernetes, the
``batch.kubernetes.io/job-completion-index`` annotation and label, the hostname ``<job>-<index>``, and
``JOB_COMPLETION_INDEX`` in every container, taken from the annotation through the downward API.

The finalizer is removed with a JSON patch that tests the pod's uid and the entry's value, so a
concurrent change of the list (or a new pod with the same name) makes the patch fail instead of
removing the wrong entry; the caller then reads the pod again.
"""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import pod_pb2
from skiff_client import ApiClient
from skiff_common import errors

from skiff_controllers.job.indexes import COMPLETION_INDEX
from skiff_controllers.job.status import FINALIZER

INDEX_ENV = "JOB_COMPLETION_INDEX"


def shape_pod(job: Any, pod: pod_pb2.Pod, index: int | None) -> None:
    """Mutate a pod made from the Job's template into one of this Job's pods."""
    if FINALIZER not in pod.metadata.finalizers:
        pod.metadata.finalizers.append(FINALIZER)
    if index is None:
        return
    pod.metadata.annotations[COMPLETION_INDEX] = str(index)
    pod.metadata.labels[COMPLETION_INDEX] = str(index)
    pod.spec.hostname = f"{job.metadata.name}-{index}"
    for container in [*pod.spec.init_containers, *pod.spec.containers]:
        if any(e.name == INDEX_ENV for e in container.env):
            continue
        env = container.env.add(name=INDEX_ENV)
        env.value_from.field_ref.field_path = f"metadata.annotations['{COMPLETION_INDEX}']"


async def remove_finalizer(api: ApiClient, pod: pod_pb2.Pod) -> bool:
    """Drop the tracking finalizer. True when the pod no longer carries it (or is gone)."""
    uid = pod.metadata.uid
    for _ in range(3):
        if FINALIZER not in pod.metadata.finalizers:
            return True
        i = list(pod.metadata.finalizers).index(FINALIZER)
        ops = [
            {"op": "test", "path": "/metadata/uid", "value": uid},
            {"op": "test", "path": f"/metadata/finalizers/{i}", "value": FINALIZER},
            {"op": "remove", "path": f"/metadata/finalizers/{i}"},
        ]
        try:
            await api.patch(pod_pb2.Pod, pod.metadata.name, pod.metadata.namespace, ops, patch_type="json")
            return True
        except errors.NotFound:
            return True
        except (errors.BadRequest, errors.Invalid, errors.Conflict):
            try:
                pod = await api.get(pod_pb2.Pod, pod.metadata.name, pod.metadata.namespace)
            except errors.NotFound:
                return True
            if pod.metadata.uid != uid:
                return True  # a new pod with that name: ours is gone
    return False
