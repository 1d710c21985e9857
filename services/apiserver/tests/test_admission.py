"""Mutating admission: DefaultTolerationSeconds, as a table and through a real create."""

from __future__ import annotations

import pytest
from apiserver_testlib import create, pod, uniq
from skiff.api.core.v1 import pod_pb2, scheduling_pb2
from skiff_apiserver.admission import default_tolerations

T = scheduling_pb2.Toleration
NR, UR = default_tolerations.NOT_READY, default_tolerations.UNREACHABLE


def _summary(p: pod_pb2.Pod) -> set[tuple[str, str, int | None]]:
    out = set()
    for t in p.spec.tolerations:
        out.add((t.key, t.effect, t.toleration_seconds if t.HasField("toleration_seconds") else None))
    return out


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], {(NR, "NoExecute", 300), (UR, "NoExecute", 300)}),
        # the pod's own toleration for a key wins (here: forever), the other key is defaulted
        ([T(key=NR, operator="Exists", effect="NoExecute")], {(NR, "NoExecute", None), (UR, "NoExecute", 300)}),
        # empty effect means every effect
        ([T(key=UR, operator="Exists", toleration_seconds=5)], {(UR, "", 5), (NR, "NoExecute", 300)}),
        # empty key with Exists tolerates every taint: nothing to add
        ([T(operator="Exists")], {("", "", None)}),
        # a NoSchedule toleration for the key does not cover NoExecute
        (
            [T(key=NR, operator="Exists", effect="NoSchedule")],
            {(NR, "NoSchedule", None), (NR, "NoExecute", 300), (UR, "NoExecute", 300)},
        ),
        ([T(key="dedicated", value="gpu")], {("dedicated", "", None), (NR, "NoExecute", 300), (UR, "NoExecute", 300)}),
    ],
)
def test_default_toleration_seconds(given: list[scheduling_pb2.Toleration], expected: set) -> None:
    p = pod_pb2.Pod()
    p.spec.tolerations.extend(given)
    default_tolerations.admit(p)
    assert _summary(p) == expected


async def test_created_pods_get_the_default_tolerations(api) -> None:
    created = await create(api.stub, pod(uniq("tol")))
    assert {(NR, "NoExecute", 300), (UR, "NoExecute", 300)} <= _summary(created)
    ops = {t.operator for t in created.spec.tolerations}
    assert ops == {"Exists"}
