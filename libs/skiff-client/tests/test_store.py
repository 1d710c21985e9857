"""Store indexing and object keys (pure logic)."""

from __future__ import annotations

import pytest
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client.store import Store, object_key, split_key


def pod(ns: str, name: str, node: str = "") -> pod_pb2.Pod:
    return pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(namespace=ns, name=name), spec=pod_pb2.PodSpec(node_name=node))


def test_object_key_and_split() -> None:
    assert object_key(pod("ns", "a")) == "ns/a"
    assert object_key(node_pb2.Node(metadata=meta_pb2.ObjectMeta(name="n1"))) == "n1"
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("n1") == ("", "n1")


def test_indexes_follow_updates_and_removals() -> None:
    store: Store[pod_pb2.Pod] = Store()
    store.add_indexer("node", lambda p: [p.spec.node_name] if p.spec.node_name else [])
    store.put(pod("ns", "a", "n1"))
    store.put(pod("ns", "b", "n1"))
    store.put(pod("other", "c"))
    assert [p.metadata.name for p in store.by_index("node", "n1")] == ["a", "b"]
    assert [p.metadata.name for p in store.by_index("namespace", "other")] == ["c"]
    store.put(pod("ns", "a", "n2"))  # moved: old index entry must go
    assert [p.metadata.name for p in store.by_index("node", "n1")] == ["b"]
    assert [p.metadata.name for p in store.by_index("node", "n2")] == ["a"]
    assert store.remove("ns/b") is not None
    assert store.by_index("node", "n1") == []
    assert store.get("ns/b") is None
    assert len(store) == 2


def test_late_indexer_covers_existing_items_and_duplicates_refused() -> None:
    store: Store[pod_pb2.Pod] = Store()
    store.put(pod("ns", "a", "n1"))
    store.add_indexer("node", lambda p: [p.spec.node_name])
    assert len(store.by_index("node", "n1")) == 1
    with pytest.raises(ValueError, match="already exists"):
        store.add_indexer("node", lambda p: [])
    with pytest.raises(KeyError):
        store.by_index("nope", "x")


def test_replace_rebuilds_indexes() -> None:
    store: Store[pod_pb2.Pod] = Store()
    store.add_indexer("node", lambda p: [p.spec.node_name])
    store.put(pod("ns", "a", "n1"))
    store.replace([pod("ns", "b", "n2")])
    assert store.by_index("node", "n1") == []
    assert store.keys() == ["ns/b"]
