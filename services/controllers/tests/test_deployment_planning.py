"""Deployment planning, table-driven: fenceposts and rounding, the rolling-update steps, proportional
scaling, revisions and the template hash -- Kubernetes' own cases where it has them."""

from __future__ import annotations

import pytest
from deployment_helpers import deployment, rs
from skiff.api.apps.v1 import apps_pb2
from skiff_common.apimachinery.intstr import int_or_string
from skiff_controllers.deployment import planning
from skiff_controllers.deployment.util import (
    DESIRED_REPLICAS,
    HASH_LABEL,
    MAX_REPLICAS,
    REVISION,
    REVISION_HISTORY,
    find_new,
    max_surge,
    max_unavailable,
    new_replica_set,
    resolve_fenceposts,
    set_new_rs_annotations,
    template_hash,
)


@pytest.mark.parametrize(
    ("surge", "unavailable", "want", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable rounds down
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 1, (1, 0)),
        (0, "10%", 5, (0, 1)),  # both resolve to 0: maxUnavailable becomes 1
        (0, 0, 3, (0, 1)),
        (2, 1, 10, (2, 1)),
        ("50%", "50%", 3, (2, 1)),
        ("100%", 0, 7, (7, 0)),
    ],
)
def test_fenceposts_round_surge_up_and_unavailable_down(
    surge: int | str, unavailable: int | str, want: int, expected: tuple[int, int]
) -> None:
    assert resolve_fenceposts(int_or_string(surge), int_or_string(unavailable), want) == expected


def test_fenceposts_bad_percentage_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a percentage"):
        resolve_fenceposts(int_or_string("abc"), int_or_string(1), 3)


def test_max_unavailable_is_capped_and_zero_for_recreate() -> None:
    assert max_unavailable(deployment(3, 0, 5)) == 3
    assert max_unavailable(deployment(strategy="Recreate")) == 0 and max_surge(deployment(strategy="Recreate")) == 0
    assert max_unavailable(deployment(0)) == 0


@pytest.mark.parametrize(
    ("d", "old", "new_spec", "expected"),
    [
        (deployment(10), [rs("old", 10)], 0, 3),  # surge 3: 13 in total
        (deployment(10), [rs("old", 10)], 3, 3),  # at the surge limit: wait
        (deployment(10), [rs("old", 8)], 3, 5),  # old scaled down by 2: room for 2 more
        (deployment(10), [rs("old", 8, available=10)], 3, 3),  # ...but only once its 2 pods are gone
        (deployment(10), [rs("old", 0)], 8, 10),  # never past replicas
        (deployment(10, 0, 2), [rs("old", 10)], 0, 0),  # no surge allowed
        (deployment(3, strategy="Recreate"), [], 0, 3),
    ],
)
def test_new_replica_set_grows_within_max_surge(
    d: apps_pb2.Deployment, old: list[apps_pb2.ReplicaSet], new_spec: int, expected: int
) -> None:
    new = rs("new", new_spec, available=0)
    assert planning.new_rs_replicas(d, [*old, new], new) == expected


def test_new_replica_set_above_replicas_is_scaled_down_to_them() -> None:
    new = rs("new", 12)
    assert planning.plan_new(deployment(10), [new], new) == {"new": 10}
    assert planning.plan_new(deployment(10), [rs("new", 10)], rs("new", 10)) == {}


@pytest.mark.parametrize(
    ("d", "old", "new", "expected"),
    [
        # 10 replicas, maxUnavailable 2: old 10 available, new 3 not yet available -> keep 8 -> scale old by 2
        (deployment(10), [rs("old", 10)], rs("new", 3, available=0), {"old": 8}),
        # new 3 available: 13 available, min 8, but maxScaledDown = 13 - 8 - 0 = 5
        (deployment(10), [rs("old", 10)], rs("new", 3), {"old": 5}),
        # nothing available to spare: no scale-down
        (deployment(10), [rs("old", 8)], rs("new", 5, available=0), {}),
        # unhealthy old pods go first (13 - 8 - 3 = 2 of the 4 unhealthy), even without spare availability
        (deployment(10), [rs("old", 10, available=6)], rs("new", 3, available=0), {"old": 8}),
        # oldest ReplicaSet first
        (deployment(4, 1, 1), [rs("b", 2, created=2), rs("a", 2, created=1)], rs("new", 1), {"a": 0}),
        # a stale status (old just scaled 10 -> 8, still reporting 10 available) counts only the 8 it
        # keeps: 8 + 2 available, min 8 -> scale down by 2, not by 4
        (deployment(10), [rs("old", 8, available=10)], rs("new", 2, available=2), {"old": 6}),
        # no old pods: nothing to do
        (deployment(10), [rs("old", 0)], rs("new", 10), {}),
    ],
)
def test_old_replica_sets_scale_down_within_max_unavailable(
    d: apps_pb2.Deployment, old: list[apps_pb2.ReplicaSet], new: apps_pb2.ReplicaSet, expected: dict[str, int]
) -> None:
    assert planning.plan_old(d, old, new) == expected


def test_rolling_update_simulation_keeps_the_bounds() -> None:
    """Run plan_new/plan_old to completion with pods becoming available at once: every step stays
    within replicas + maxSurge pods and replicas - maxUnavailable available."""
    d = deployment(20, "25%", "25%")
    old, new = rs("old", 20, created=1), rs("new", 0, available=0, created=2)
    for _ in range(50):
        step = planning.plan_new(d, [old, new], new) or planning.plan_old(d, [old], new)
        if not step:
            break
        if "new" in step:
            new = rs("new", step["new"], available=new.status.available_replicas, created=2)
        if "old" in step:
            old = rs("old", step["old"], created=1)
        assert old.spec.replicas + new.spec.replicas <= 20 + 5
        assert old.status.available_replicas + new.status.available_replicas >= 20 - 5
        new = rs("new", new.spec.replicas, created=2)  # the kubelet makes them available
    assert (old.spec.replicas, new.spec.replicas) == (0, 20)


@pytest.mark.parametrize(
    ("d", "new", "old", "expected"),
    [
        # one active ReplicaSet takes the whole new count
        (deployment(5), rs("new", 3, desired=3), [rs("old", 0)], {"new": 5}),
        (deployment(5), None, [rs("a", 0, created=1), rs("b", 0, created=2)], {"b": 5}),
        (deployment(3), rs("new", 3, desired=3), [], {}),
        # saturated new ReplicaSet: old ones go to 0
        (deployment(4), rs("new", 4, desired=4), [rs("old", 2, desired=4)], {"old": 0}),
    ],
)
def test_plan_scale_simple_cases(
    d: apps_pb2.Deployment, new: apps_pb2.ReplicaSet | None, old: list[apps_pb2.ReplicaSet], expected: dict[str, int]
) -> None:
    assert planning.plan_scale(d, new, old) == expected


def test_proportional_scaling_mid_rollout() -> None:
    """Kubernetes' documented example: 10 replicas, maxSurge 3 mid-rollout (8 old + 5 new = 13), scaled
    to 15 -> 18 allowed: 5 more split in proportion, old 8->11 and new 5->7 (leftover to the largest)."""
    d = deployment(15, 3, 2)
    old = rs("old", 8, created=1)
    new = rs("new", 5, available=0, created=2)
    for r in (old, new):
        r.metadata.annotations[MAX_REPLICAS] = "13"
        r.metadata.annotations[DESIRED_REPLICAS] = "10"
    assert planning.is_scaling_event(d, [old, new])
    plan = planning.plan_scale(d, new, [old])
    assert plan == {"old": 11, "new": 7} and sum(plan.values()) == 18


def test_template_hash_is_stable_and_changes_with_the_template() -> None:
    d = deployment()
    h = template_hash(d.spec.template)
    assert h == template_hash(deployment().spec.template) and h.isalnum()
    assert not set(h) & set("aeiou013")  # Kubernetes' safe alphabet
    other = deployment()
    other.spec.template.spec.containers[0].image = "busybox:1.36"
    assert template_hash(other.spec.template) != h
    assert template_hash(d.spec.template, 1) != h  # a collision count gives a new name


def test_new_replica_set_name_labels_selector_and_annotations() -> None:
    d = deployment(4)
    d.metadata.annotations["team"] = "blue"
    d.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    new = new_replica_set(d, 2, 1)
    h = template_hash(d.spec.template)
    assert new.metadata.name == f"web-{h}"
    assert new.spec.template.metadata.labels[HASH_LABEL] == h and new.spec.selector.match_labels[HASH_LABEL] == h
    assert new.metadata.labels[HASH_LABEL] == h and "pod-template-hash" not in d.spec.template.metadata.labels
    ann = new.metadata.annotations
    assert (ann[REVISION], ann[DESIRED_REPLICAS], ann[MAX_REPLICAS], ann["team"]) == ("1", "4", "5", "blue")
    assert "kubectl.kubernetes.io/last-applied-configuration" not in ann
    assert find_new(d, [new]) is new  # the hash label is ignored when matching templates


def test_rollback_gives_the_old_replica_set_the_next_revision_and_keeps_history() -> None:
    d = deployment()
    old = new_replica_set(d, 0, 1)
    assert set_new_rs_annotations(d, old, 3, exists=True)
    assert old.metadata.annotations[REVISION] == "3" and old.metadata.annotations[REVISION_HISTORY] == "1"
    assert set_new_rs_annotations(d, old, 5, exists=True)
    assert old.metadata.annotations[REVISION_HISTORY] == "1,3"
    assert not set_new_rs_annotations(d, old, 5, exists=True)  # nothing new: no write


def test_templates_compare_semantically_as_kubernetes_does() -> None:
    """`kubectl rollout undo` sends the old template re-encoded by Go (`resources: {}`, `creationTimestamp:
    null`): it must still equal the old ReplicaSet's template, or a rollback would make a new ReplicaSet."""
    from skiff.api.core.v1 import pod_pb2
    from skiff_common.apimachinery import convert
    from skiff_controllers.deployment.util import HASH_LABEL, equal_ignore_hash

    rs_template = deployment().spec.template
    rs_template.metadata.labels[HASH_LABEL] = "abc"
    sent = convert.to_dict(deployment().spec.template)
    sent["metadata"]["creationTimestamp"] = None
    sent["spec"]["containers"][0]["resources"] = {}
    from_kubectl = convert.from_dict(sent, pod_pb2.PodTemplateSpec)
    assert from_kubectl.spec.containers[0].HasField("resources")
    assert equal_ignore_hash(rs_template, from_kubectl)
    from_kubectl.spec.containers[0].image = "busybox:2"
    assert not equal_ignore_hash(rs_template, from_kubectl)
