"""Deployment helpers with no I/O: the template hash, fenceposts, revisions and ReplicaSet bookkeeping
(Kubernetes' ``deployment/util``).

* ``template_hash`` -- FNV-1a (32 bit) over the template's deterministic protobuf encoding plus the
  collision count, rendered in Kubernetes' "safe" alphabet (no vowels, no look-alikes), so the
  ReplicaSet of a template is ``<deployment>-<hash>`` and carries ``pod-template-hash=<hash>``.
* ``equal_ignore_hash`` -- Kubernetes compares templates with semantic equality, where an empty struct
  is the same as an absent one; so does this (an empty message, list or map counts as unset). It
  matters for rollbacks: ``kubectl rollout undo`` sends the old template re-encoded by Go, with
  ``resources: {}`` and ``creationTimestamp: null``, and must land on the old ReplicaSet.
* ``resolve_fenceposts`` -- maxSurge rounds **up**, maxUnavailable rounds **down**; if both resolve to
  0 (a rounding artefact: validation forbids both 0), maxUnavailable becomes 1 so a rollout can move.
* Revisions live in the ``deployment.kubernetes.io/revision`` annotation of each ReplicaSet; a template
  rolled back to reuses its old ReplicaSet, which gets the next revision and remembers the previous
  ones in ``revision-history``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_common.apimachinery import convert, intstr

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
SKIP_COPY = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})
MAX_REVISION_HISTORY_CHARS = 2000
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: pod_pb2.PodTemplateSpec, collision_count: int | None = None) -> str:
    h = 0x811C9DC5
    data = template.SerializeToString(deterministic=True)
    if collision_count is not None:
        data += struct.pack(">I", collision_count & 0xFFFFFFFF)
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(h))


def strip_hash(template: pod_pb2.PodTemplateSpec) -> pod_pb2.PodTemplateSpec:
    out = pod_pb2.PodTemplateSpec()
    out.CopyFrom(template)
    out.metadata.labels.pop(HASH_LABEL, None)
    return out


def _pruned(value: object) -> object:
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def equal_ignore_hash(a: pod_pb2.PodTemplateSpec, b: pod_pb2.PodTemplateSpec) -> bool:
    x, y = strip_hash(a), strip_hash(b)
    return x == y or _pruned(convert.to_dict(x)) == _pruned(convert.to_dict(y))


def desired(d: apps_pb2.Deployment) -> int:
    return d.spec.replicas if d.spec.HasField("replicas") else 1


def replicas(rs: apps_pb2.ReplicaSet | None) -> int:
    if rs is None:
        return 0
    return rs.spec.replicas if rs.spec.HasField("replicas") else 1


def is_rolling(d: apps_pb2.Deployment) -> bool:
    return d.spec.strategy.type in ("", "RollingUpdate")


def resolve_fenceposts(max_surge: object, max_unavailable: object, want: int) -> tuple[int, int]:
    """(surge, unavailable) as counts for ``want`` replicas; ValueError names a bad percentage."""
    surge = intstr.int_or_percent(max_surge, want, round_up=True)  # type: ignore[arg-type]
    unavailable = intstr.int_or_percent(max_unavailable, want, round_up=False)  # type: ignore[arg-type]
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling_values(d: apps_pb2.Deployment) -> tuple[object, object]:
    ru = d.spec.strategy.rolling_update
    surge = ru.max_surge if ru.HasField("max_surge") else intstr.int_or_string("25%")
    unavailable = ru.max_unavailable if ru.HasField("max_unavailable") else intstr.int_or_string("25%")
    return surge, unavailable


def max_surge(d: apps_pb2.Deployment) -> int:
    if not is_rolling(d):
        return 0
    surge, _ = resolve_fenceposts(*_rolling_values(d), desired(d))
    return surge


def max_unavailable(d: apps_pb2.Deployment) -> int:
    if not is_rolling(d) or desired(d) == 0:
        return 0
    _, unavailable = resolve_fenceposts(*_rolling_values(d), desired(d))
    return min(unavailable, desired(d))


def revision(obj: object) -> int:
    value = obj.metadata.annotations.get(REVISION, "")  # type: ignore[attr-defined]
    try:
        return int(value)
    except ValueError:
        return 0


def max_revision(rss: Iterable[apps_pb2.ReplicaSet]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def _created(rs: apps_pb2.ReplicaSet) -> tuple[int, int, str]:
    ts = rs.metadata.creation_timestamp
    return (ts.seconds, ts.nanos, rs.metadata.name)


def by_creation(rss: Iterable[apps_pb2.ReplicaSet]) -> list[apps_pb2.ReplicaSet]:
    return sorted(rss, key=_created)


def by_revision(rss: Iterable[apps_pb2.ReplicaSet]) -> list[apps_pb2.ReplicaSet]:
    return sorted(rss, key=lambda rs: (revision(rs), _created(rs)))


def find_new(d: apps_pb2.Deployment, rss: Sequence[apps_pb2.ReplicaSet]) -> apps_pb2.ReplicaSet | None:
    """The oldest ReplicaSet whose template equals the Deployment's (ignoring the hash label)."""
    return next((rs for rs in by_creation(rss) if equal_ignore_hash(rs.spec.template, d.spec.template)), None)


def split_new_old(
    d: apps_pb2.Deployment, rss: Sequence[apps_pb2.ReplicaSet]
) -> tuple[apps_pb2.ReplicaSet | None, list[apps_pb2.ReplicaSet]]:
    new = find_new(d, rss)
    return new, [rs for rs in rss if new is None or rs.metadata.uid != new.metadata.uid]


def active(rss: Iterable[apps_pb2.ReplicaSet | None]) -> list[apps_pb2.ReplicaSet]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def spec_total(rss: Iterable[apps_pb2.ReplicaSet | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def pods_total(rss: Iterable[apps_pb2.ReplicaSet | None]) -> int:
    """Pods the ReplicaSets have or will have: the larger of spec and the observed count, so a
    ReplicaSet just scaled down but still deleting its surplus counts its pods, not its new spec (the
    surge limit holds for real pods, not only on paper)."""
    return sum(max(replicas(rs), rs.status.replicas) for rs in rss if rs is not None)


def available(rs: apps_pb2.ReplicaSet) -> int:
    """Available pods that will stay: a ReplicaSet just scaled down still reports the pods it is about
    to delete as available, so never count more than its spec (a stale status must not let a rolling
    update go below minAvailable)."""
    return min(rs.status.available_replicas, replicas(rs))


def available_total(rss: Iterable[apps_pb2.ReplicaSet | None]) -> int:
    return sum(available(rs) for rs in rss if rs is not None)


def replicas_annotations_need_update(rs: apps_pb2.ReplicaSet, want: int, max_total: int) -> bool:
    ann = rs.metadata.annotations
    return ann.get(DESIRED_REPLICAS) != str(want) or ann.get(MAX_REPLICAS) != str(max_total)


def set_replicas_annotations(rs: apps_pb2.ReplicaSet, want: int, max_total: int) -> bool:
    changed = replicas_annotations_need_update(rs, want, max_total)
    rs.metadata.annotations[DESIRED_REPLICAS] = str(want)
    rs.metadata.annotations[MAX_REPLICAS] = str(max_total)
    return changed


def set_new_rs_annotations(d: apps_pb2.Deployment, rs: apps_pb2.ReplicaSet, new_revision: int, exists: bool) -> bool:
    """Copy the Deployment's annotations, raise the revision (keeping history on a rollback), and on
    creation the replicas annotations. True when anything changed (Kubernetes' SetNewReplicaSetAnnotations)."""
    changed = False
    for k, v in d.metadata.annotations.items():
        if k in SKIP_COPY or rs.metadata.annotations.get(k) == v:
            continue
        rs.metadata.annotations[k] = v
        changed = True
    old_text = rs.metadata.annotations.get(REVISION)
    try:
        old = int(old_text) if old_text else 0
    except ValueError:
        return changed
    if old < new_revision:
        rs.metadata.annotations[REVISION] = str(new_revision)
        changed = True
        if old_text:
            history = [h for h in rs.metadata.annotations.get(REVISION_HISTORY, "").split(",") if h] + [old_text]
            while len(",".join(history)) > MAX_REVISION_HISTORY_CHARS and len(history) > 1:
                history.pop(0)
            rs.metadata.annotations[REVISION_HISTORY] = ",".join(history)
    if not exists and set_replicas_annotations(rs, desired(d), desired(d) + max_surge(d)):
        changed = True
    return changed


def new_replica_set(d: apps_pb2.Deployment, replicas_: int, new_revision: int) -> apps_pb2.ReplicaSet:
    """The ReplicaSet for the Deployment's current template (not yet created)."""
    h = template_hash(d.spec.template, d.status.collision_count if d.status.HasField("collision_count") else None)
    rs = apps_pb2.ReplicaSet(api_version="apps/v1", kind="ReplicaSet")
    rs.metadata.name = f"{d.metadata.name}-{h}"
    rs.metadata.namespace = d.metadata.namespace
    rs.spec.template.CopyFrom(d.spec.template)
    rs.spec.template.metadata.labels[HASH_LABEL] = h
    rs.metadata.labels.update(rs.spec.template.metadata.labels)
    rs.spec.selector.CopyFrom(d.spec.selector)
    rs.spec.selector.match_labels[HASH_LABEL] = h
    rs.spec.replicas = replicas_
    rs.spec.min_ready_seconds = d.spec.min_ready_seconds
    set_new_rs_annotations(d, rs, new_revision, exists=False)
    return rs
