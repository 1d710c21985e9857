"""`describe` output as kubectl's generic describer lays it out, and the object's Events beneath.

kubectl prints every field of an object it has no dedicated describer for in one shape: `Name`,
`Namespace`, `Labels`, `Annotations`, then the whole object with its keys sorted and spelt as words
(`creationTimestamp` -> `Creation Timestamp`, `apiVersion` -> `API Version`), nested by two spaces,
aligned by Go's tabwriter (padding 2); then the Events (Type, Reason, Age, From, Message; `5s (x3 over
2m)` for repeats). We use that shape for every kind, so nothing here is per kind.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

SKIP_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration"}
ACRONYMS = {"API", "URL", "UID", "OSB", "GUID"}


def tabwrite(text: str, *, padding: int = 2, minwidth: int = 0) -> str:
    """Go's text/tabwriter: a column's width is set per block of consecutive lines that have that cell."""
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write(a: int, b: int) -> None:
        for line in lines[a:b]:
            out.append(
                "".join(c.ljust(widths[j]) if j < len(widths) and j < len(line) - 1 else c for j, c in enumerate(line))
            )

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    fmt(0, len(lines))
    return "\n".join(out)


def smart_label(field: str) -> str:
    if re.search(r"[^A-Za-z-]", field):
        return field
    runs = re.findall(r"[a-z]+|[A-Z]+|[^A-Za-z]+", field)
    parts: list[str] = []
    for i, run in enumerate(runs):  # "podIPs" -> pod, I, Ps: an upper run gives its last letter to a lower one
        if run.isupper() and i + 1 < len(runs) and runs[i + 1].islower():
            if len(run) > 1:
                parts.append(run[:-1])
            runs[i + 1] = run[-1] + runs[i + 1]
        else:
            parts.append(run)
    words = [p.upper() if p.upper() in ACRONYMS else p[:1].upper() + p[1:] for p in parts if p != "_"]
    return " ".join(words)


def _value(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def content(out: list[str], level: int, data: dict[str, Any], prefix: str = "") -> None:
    indent = "  " * level
    for key in sorted(data):
        value = data[key]
        path = f"{prefix}.{key}"
        if path == ".metadata.managedFields":
            continue
        if isinstance(value, dict):
            out.append(f"{indent}{smart_label(key)}:")
            content(out, level + 1, value, path)
        elif isinstance(value, list):
            out.append(f"{indent}{smart_label(key)}:")
            for item in value:
                if isinstance(item, dict):
                    content(out, level + 1, item, path)
                else:
                    out.append(f"{'  ' * (level + 1)}{_value(item)}")
        else:
            out.append(f"{indent}{smart_label(key)}:\t{_value(value)}")


def multiline(out: list[str], title: str, values: dict[str, str], skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    items = sorted((k, v) for k, v in (values or {}).items() if k not in skip)
    if not items:
        out.append(f"{title}:\t<none>")
        return
    for i, (k, v) in enumerate(items):
        out.append(f"{title}:\t{k}={v}" if i == 0 else f"\t{k}={v}")


def describe(obj: dict[str, Any], events: list[dict[str, Any]] | None, now: float | None = None) -> str:
    meta = obj.get("metadata") or {}
    out = [f"Name:\t{meta.get('name', '')}", f"Namespace:\t{meta.get('namespace', '')}"]
    multiline(out, "Labels", meta.get("labels") or {})
    multiline(out, "Annotations", meta.get("annotations") or {}, SKIP_ANNOTATIONS)
    content(out, 0, obj)
    text = tabwrite("\n".join(out))
    return text + "\n" + events_text(events, now)


def events_text(events: list[dict[str, Any]] | None, now: float | None = None) -> str:
    if events is None:
        return ""
    if not events:
        return tabwrite("Events:\t<none>") + "\n"
    now = time.time() if now is None else now
    rows = ["Events:", "  Type\tReason\tAge\tFrom\tMessage", "  ----\t------\t----\t----\t-------"]
    for e in sorted(events, key=lambda e: _ts(e.get("lastTimestamp") or e.get("eventTime")) or 0):
        first = since(e.get("eventTime") or e.get("firstTimestamp"), now)
        series = e.get("series") or {}
        if series:
            age = f"{since(series.get('lastObservedTime'), now)} (x{series.get('count')} over {first})"
        elif (e.get("count") or 0) > 1:
            age = f"{since(e.get('lastTimestamp'), now)} (x{e['count']} over {first})"
        else:
            age = first
        source = (
            (e.get("source") or {}).get("component") or e.get("reportingComponent") or e.get("reportingController", "")
        )
        rows.append(
            f"  {e.get('type', '')}\t{e.get('reason', '')}\t{age}\t{source}\t{(e.get('message') or '').strip()}"
        )
    return tabwrite("\n".join(rows)) + "\n"


def _ts(value: Any) -> float | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def since(value: Any, now: float) -> str:
    ts = _ts(value)
    return "<unknown>" if ts is None else human_duration(now - ts)


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery's duration.HumanDuration."""
    if seconds < -1:
        return "<invalid>"
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 192:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    y = h // (24 * 365)
    if y < 8:
        return f"{y}y{(h // 24) % 365}d"
    return f"{y}y"
