"""What every printer shares: column definitions, Kubernetes' human durations, label/selector formats."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

_DESCRIPTIONS = {
    "name": "Name must be unique within a namespace. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object was created.",
}


def column(
    name: str, fmt: str = "", *, kind: str = "string", wide: bool = False, description: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "format": fmt,
        "description": description or _DESCRIPTIONS.get(fmt or name, name),
        "priority": 1 if wide else 0,
    }


@dataclass(frozen=True)
class Printer:
    columns: list[dict[str, Any]]
    cells: Callable[[Message], list[Any]]


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def since(ts: Any, now: float | None = None) -> str:
    """Age of a google.protobuf.Timestamp, "<unknown>" when unset (translateTimestampSince)."""
    if not ts.seconds:
        return "<unknown>"
    return human_duration((now if now is not None else time.time()) - ts.seconds)


def age(meta: Any) -> str:
    return since(meta.creation_timestamp)


def join_or_none(values: Iterable[str]) -> str:
    text = ",".join(v for v in values if v)
    return text or "<none>"


def selector_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def label_selector_text(sel: Any) -> str:
    """metav1.FormatLabelSelector: matchLabels then matchExpressions; "<none>" when empty."""
    parts = [f"{k}={v}" for k, v in sorted(sel.match_labels.items())]
    for expr in sel.match_expressions:
        op = expr.operator
        if op in ("In", "NotIn"):
            parts.append(f"{expr.key} {op.lower()} ({','.join(expr.values)})")
        elif op == "Exists":
            parts.append(expr.key)
        elif op == "DoesNotExist":
            parts.append(f"!{expr.key}")
    return ",".join(parts) or "<none>"


def containers_and_images(pod_spec: Any) -> tuple[str, str]:
    return ",".join(c.name for c in pod_spec.containers), ",".join(c.image for c in pod_spec.containers)
