"""Pure pieces: controller selection, expectations, ReplicaSet helpers."""

from __future__ import annotations

import pytest
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_controllers.registry import select
from skiff_controllers.replicaset.controller import deletion_rank, pod_from_template
from skiff_controllers.replicaset.expectations import EXPECTATION_TTL, Expectations


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], ["namespace", "replicaset"]),
        (["*"], ["namespace", "replicaset"]),
        (["namespace"], ["namespace"]),
        (["*", "-replicaset"], ["namespace"]),
    ],
)
def test_select(names: list[str], expected: list[str]) -> None:
    assert select(names) == expected


def test_select_unknown_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown controller 'deploy'"):
        select(["deploy"])


def test_expectations_block_until_observed_or_expired() -> None:
    now = [0.0]
    exp = Expectations(clock=lambda: now[0])
    assert exp.satisfied("ns/rs")
    exp.expect("ns/rs", adds=2)
    assert not exp.satisfied("ns/rs")
    exp.observed_add("ns/rs")
    assert not exp.satisfied("ns/rs")
    exp.observed_add("ns/rs")
    assert exp.satisfied("ns/rs")
    exp.expect("ns/rs", dels=1)
    now[0] = EXPECTATION_TTL + 1
    assert exp.satisfied("ns/rs")  # a lost event must not wedge the ReplicaSet


def test_pod_from_template_sets_owner_and_generate_name() -> None:
    rs = apps_pb2.ReplicaSet(metadata=meta_pb2.ObjectMeta(name="web", namespace="ns", uid="rs-uid"))
    rs.spec.template.metadata.labels["app"] = "web"
    rs.spec.template.spec.containers.add(name="c", image="busybox")
    pod = pod_from_template(rs)
    assert pod.metadata.generate_name == "web-" and not pod.metadata.name and pod.metadata.namespace == "ns"
    ref = pod.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.uid, ref.controller) == ("ReplicaSet", "web", "rs-uid", True)
    assert pod.metadata.labels["app"] == "web" and pod.spec.containers[0].image == "busybox"


def test_deletion_rank_prefers_unscheduled_then_pending_then_unready() -> None:
    unscheduled = pod_pb2.Pod()
    pending = pod_pb2.Pod(spec=pod_pb2.PodSpec(node_name="n"))
    running = pod_pb2.Pod(spec=pod_pb2.PodSpec(node_name="n"), status=pod_pb2.PodStatus(phase="Running"))
    ready = pod_pb2.Pod(spec=pod_pb2.PodSpec(node_name="n"), status=pod_pb2.PodStatus(phase="Running"))
    ready.status.conditions.add(type="Ready", status="True")
    assert sorted([ready, running, pending, unscheduled], key=deletion_rank) == [
        unscheduled,
        pending,
        running,
        ready,
    ]


def test_deletion_rank_prefers_most_restarted_then_newest() -> None:
    old = pod_pb2.Pod()
    old.metadata.creation_timestamp.seconds = 100
    new = pod_pb2.Pod()
    new.metadata.creation_timestamp.seconds = 200
    crashing = pod_pb2.Pod()
    crashing.metadata.creation_timestamp.seconds = 50
    crashing.status.container_statuses.add(name="c", restart_count=3)
    assert sorted([old, new, crashing], key=deletion_rank) == [crashing, new, old]
