"""The template hash that tells updated daemon pods from old ones (``controller-revision-hash``).

Each template is stored as a ControllerRevision (history.py) named and labelled with this hash, and
daemon pods carry the current revision's label. The hash is Kubernetes' recipe with our encoding: FNV-1a
32 over a deterministic encoding of the template plus the collisionCount, in Kubernetes' safe alphabet
that never spells words. Pods also carry ``pod-template-generation`` (the DaemonSet's generation), the
label Kubernetes still sets.
"""

from __future__ import annotations

from skiff.api.apps.v1 import apps_pb2

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def _safe_encode(n: int) -> str:
    text = str(n)
    return "".join(_ALPHABET[ord(c) % len(_ALPHABET)] for c in text)


def template_hash(ds: apps_pb2.DaemonSet) -> str:
    data = ds.spec.template.SerializeToString(deterministic=True)
    if ds.status.HasField("collision_count"):
        data += ds.status.collision_count.to_bytes(4, "big", signed=True)
    return _safe_encode(_fnv32a(data))


def is_updated(pod_labels: dict[str, str] | object, ds_hash: str, generation: int) -> bool:
    labels: dict[str, str] = dict(pod_labels)  # type: ignore[arg-type]
    if HASH_LABEL in labels:
        return bool(labels[HASH_LABEL] == ds_hash)
    return labels.get(GENERATION_LABEL) == str(generation)
