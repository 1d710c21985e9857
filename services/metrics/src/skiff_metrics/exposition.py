"""A parser for the few series of the kubelet's `/metrics/resource` (Prometheus text format 0.0.4).

Only the lines of the families asked for are parsed; the value and the sample's own timestamp (ms) are
kept, because rates must be computed over the kubelet's sampling times, not over our scrape times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(-?\d+))?\s*$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float
    timestamp_ms: int | None


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def parse(text: str, families: set[str]) -> list[Sample]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None or m.group(1) not in families:
            continue
        labels = {k: _unescape(v) for k, v in _LABEL.findall(m.group(2) or "")}
        ts = int(m.group(4)) if m.group(4) else None
        out.append(Sample(m.group(1), labels, float(m.group(3)), ts))
    return out
