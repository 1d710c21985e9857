"""Garbage collector decisions as tables, and the graph's owner -> dependents index."""

from __future__ import annotations

import pytest
from skiff.api.meta.v1 import meta_pb2
from skiff_controllers.garbagecollector.graph import (
    FOREGROUND,
    ORPHAN,
    Decision,
    Graph,
    OwnerState,
    Vertex,
    blocking,
    decide,
    state_of,
)

A, W, S = OwnerState.ABSENT, OwnerState.WAITING, OwnerState.SOLID


def ref(uid: str, block: bool | None = None) -> meta_pb2.OwnerReference:
    r = meta_pb2.OwnerReference(api_version="v1", kind="ConfigMap", name=f"o-{uid}", uid=uid)
    if block is not None:
        r.block_owner_deletion = block
    return r


def v(uid: str, owners=(), *, deleting=False, finalizers=()) -> Vertex:
    return Vertex(uid, "configmaps", "default", uid, tuple(owners), deleting, tuple(finalizers))


@pytest.mark.parametrize(
    ("item", "states", "has_deps", "expected"),
    [
        (v("d"), {}, False, Decision()),
        (v("d", [ref("a")]), {"a": S}, False, Decision()),
        (v("d", [ref("a")]), {"a": A}, False, Decision(delete="Background")),
        (v("d", [ref("a"), ref("b")]), {"a": A, "b": S}, False, Decision(remove_refs=["a"])),
        (v("d", [ref("a"), ref("b")]), {"a": W, "b": S}, True, Decision(remove_refs=["a"])),
        (v("d", [ref("a")]), {"a": W}, False, Decision(delete="Background")),
        (v("d", [ref("a")]), {"a": W}, True, Decision(delete="Foreground")),
        (v("d", [ref("a")], finalizers=[ORPHAN]), {"a": A}, True, Decision(delete="Orphan")),
        (v("d", [ref("a")], finalizers=[FOREGROUND]), {"a": A}, True, Decision(delete="Foreground")),
    ],
)
def test_decide(item: Vertex, states: dict, has_deps: bool, expected: Decision) -> None:
    assert decide(item, states, has_deps) == expected


@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        (None, A),
        (v("o"), S),
        (v("o", deleting=True), S),
        (v("o", deleting=True, finalizers=[ORPHAN]), S),
        (v("o", deleting=True, finalizers=[FOREGROUND]), W),
    ],
)
def test_state_of(owner: Vertex | None, expected: OwnerState) -> None:
    assert state_of(owner) == expected


def test_graph_indexes_dependents_by_owner_uid() -> None:
    g = Graph()
    g.upsert(v("d1", [ref("o1")]))
    g.upsert(v("d2", [ref("o1"), ref("o2")]))
    assert [d.uid for d in g.dependents("o1")] == ["d1", "d2"]
    g.upsert(v("d2", [ref("o2")]))  # an update drops the o1 edge
    assert [d.uid for d in g.dependents("o1")] == ["d1"]
    g.remove("d1")
    assert not g.has_dependents("o1") and [d.uid for d in g.dependents("o2")] == ["d2"]


def test_blocking_needs_block_owner_deletion() -> None:
    deps = [v("d1", [ref("o", True)]), v("d2", [ref("o", False)]), v("d3", [ref("o")]), v("d4", [ref("x", True)])]
    assert [d.uid for d in blocking("o", deps)] == ["d1"]
