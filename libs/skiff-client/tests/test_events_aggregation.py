"""EventRecorder aggregation against a real apiserver: repeats bump count on one Event; many distinct
messages for one reason are combined, as client-go's EventCorrelator does."""

from __future__ import annotations

import uuid

import pytest
from skiff.api.core.v1 import event_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient, EventRecorder
from skiff_client.events import AGGREGATE_MAX, COMBINED_PREFIX

pytestmark = pytest.mark.etcd


async def _pod(client: ApiClient) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(
        api_version="v1",
        kind="Pod",
        metadata=meta_pb2.ObjectMeta(name=f"ev-{uuid.uuid4().hex[:6]}", namespace="default"),
    )
    pod.spec.containers.add(name="c", image="busybox")
    return await client.create(pod)


async def _events_of(client: ApiClient, pod: pod_pb2.Pod) -> list[event_pb2.Event]:
    items = (await client.list(event_pb2.Event, "default")).items
    return [e for e in items if e.involved_object.uid == pod.metadata.uid]


async def test_a_repeated_event_is_one_event_with_a_count(client: ApiClient) -> None:
    pod = await _pod(client)
    rec = EventRecorder(client, "default-scheduler")
    msg = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
    for _ in range(25):
        rec.record(pod, "Warning", "FailedScheduling", msg)
    await rec.flush()
    events = await _events_of(client, pod)
    assert len(events) == 1
    ev = events[0]
    assert (ev.reason, ev.message, ev.count, ev.type) == ("FailedScheduling", msg, 25, "Warning")
    assert ev.last_timestamp.seconds >= ev.first_timestamp.seconds > 0
    # A different reason is a different Event.
    rec.record(pod, "Normal", "Scheduled", "Successfully assigned")
    await rec.flush()
    assert sorted(e.reason for e in await _events_of(client, pod)) == ["FailedScheduling", "Scheduled"]


async def test_many_distinct_messages_for_one_reason_are_combined(client: ApiClient) -> None:
    pod = await _pod(client)
    rec = EventRecorder(client, "kubelet", "node-1")
    total = AGGREGATE_MAX + 5
    for i in range(total):
        rec.record(pod, "Warning", "BackOff", f"Back-off restarting failed container attempt {i}")
    await rec.flush()
    events = await _events_of(client, pod)
    plain = [e for e in events if not e.message.startswith(COMBINED_PREFIX)]
    combined = [e for e in events if e.message.startswith(COMBINED_PREFIX)]
    assert len(plain) == AGGREGATE_MAX - 1
    assert len(combined) == 1
    assert combined[0].count == total - (AGGREGATE_MAX - 1)
    assert combined[0].message == COMBINED_PREFIX + f"Back-off restarting failed container attempt {total - 1}"
