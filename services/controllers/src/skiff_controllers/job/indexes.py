"""Completion indexes of an Indexed Job, in Kubernetes' compressed text form ("1,3-5,7").

``status.completedIndexes`` is an ordered list of intervals; the controller parses it, adds the indexes of
newly counted successful pods, and writes it back. A pod's index comes from its
``batch.kubernetes.io/job-completion-index`` annotation; a pod without a valid one is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


def parse(text: str, completions: int) -> set[int]:
    """Indexes below ``completions`` named by ``text``; malformed parts are skipped (status is ours, but a
    lowered completions must not leave stale indexes counted)."""
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            continue
        out.update(range(max(first, 0), min(last, completions - 1) + 1))
    return out


def format_indexes(indexes: Iterable[int]) -> str:
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def pod_index(pod: Any, completions: int) -> int | None:
    """The pod's completion index, or None when missing or out of range."""
    raw = pod.metadata.annotations.get(COMPLETION_INDEX)
    if raw is None or not raw.isdigit():
        return None
    idx = int(raw)
    return idx if idx < completions else None


def first_pending(completed: set[int], active: set[int], completions: int, count: int) -> list[int]:
    """The ``count`` lowest indexes that neither succeeded nor have an active pod."""
    out: list[int] = []
    for idx in range(completions):
        if len(out) >= count:
            break
        if idx not in completed and idx not in active:
            out.append(idx)
    return out
