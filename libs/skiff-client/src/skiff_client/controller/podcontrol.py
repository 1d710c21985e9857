"""PodControl: create a pod from a template for an owner, delete one, and say so in Events.

Every workload controller creates pods the same way (Kubernetes' ``RealPodControl``): labels,
annotations and finalizers from the template, the spec copied, a controller ownerReference, a
generated name ``<owner>-``; and every create or delete is reported on the owner as
``SuccessfulCreate`` / ``FailedCreate`` / ``SuccessfulDelete`` / ``FailedDelete`` with Kubernetes'
messages. A delete of a pod that is already gone is not a failure (someone else got there first): NotFound,
or a UID precondition that fails because a new pod took the name, end quietly with no Event, as
Kubernetes' RealPodControl.DeletePod does; ``delete`` then returns False.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common import errors

from skiff_client.api import ApiClient
from skiff_client.events import EventRecorder


def pod_from_template(
    template: pod_pb2.PodTemplateSpec,
    controller_ref: meta_pb2.OwnerReference,
    *,
    namespace: str,
    generate_name: str | None = None,
    name: str | None = None,
) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(api_version="v1", kind="Pod")
    src = template.metadata
    pod.metadata.labels.update(src.labels)
    pod.metadata.annotations.update(src.annotations)
    pod.metadata.finalizers.extend(src.finalizers)
    pod.metadata.namespace = namespace
    if name:
        pod.metadata.name = name
    else:
        pod.metadata.generate_name = generate_name if generate_name is not None else f"{controller_ref.name}-"
    pod.metadata.owner_references.append(controller_ref)
    pod.spec.CopyFrom(template.spec)
    return pod


class PodControl:
    def __init__(self, api: ApiClient, events: EventRecorder) -> None:
        self.api = api
        self.events = events

    async def create_from_template(
        self,
        template: pod_pb2.PodTemplateSpec,
        owner: Any,
        controller_ref: meta_pb2.OwnerReference,
        *,
        namespace: str,
        generate_name: str | None = None,
        name: str | None = None,
        mutate: Callable[[pod_pb2.Pod], None] | None = None,
    ) -> pod_pb2.Pod:
        pod = pod_from_template(template, controller_ref, namespace=namespace, generate_name=generate_name, name=name)
        if mutate is not None:
            mutate(pod)
        try:
            created = await self.api.create(pod)
        except errors.SkiffError as exc:
            self.events.record(owner, "Warning", "FailedCreate", f"Error creating: {exc}")
            raise
        self.events.record(owner, "Normal", "SuccessfulCreate", f"Created pod: {created.metadata.name}")
        return created

    async def delete(self, pod: pod_pb2.Pod, owner: Any) -> bool:
        """Delete ``pod`` (by UID); True if this call deleted it, False if it was already gone."""
        try:
            await self.api.delete(
                pod_pb2.Pod, pod.metadata.name, pod.metadata.namespace, preconditions_uid=pod.metadata.uid or None
            )
        except (errors.NotFound, errors.FailedPrecondition, errors.Conflict):
            return False  # gone, or a different pod now has that name: ours is gone either way
        except errors.SkiffError as exc:
            self.events.record(owner, "Warning", "FailedDelete", f"Error deleting: {exc}")
            raise
        self.events.record(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}")
        return True


async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[Any]]) -> int:
    """Call the coroutine factory ``fn`` ``count`` times in batches of 1, 2, 4 ... (Kubernetes'
    slowStartBatch): a template that always fails costs one failed call, not ``count``. Returns how
    many succeeded; stops after the first batch with a failure and raises ``BatchError``."""
    done = 0
    batch = min(initial, count)
    while done < count and batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        done += batch - len(failures)
        if failures:
            raise BatchError(done, failures[0])
        batch = min(2 * batch, count - done)
    return done


class BatchError(Exception):
    """A slow-start batch failed: ``succeeded`` calls went through, ``cause`` is the first error."""

    def __init__(self, succeeded: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.succeeded = succeeded
        self.cause = cause
