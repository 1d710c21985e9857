"""The latest window of usage: two points per node and per container, rates between them.

    scrape n-1 ─> previous ┐
    scrape n   ─> latest   ┴─> cpu = Δ cumulative cpu seconds / Δ kubelet sample time, memory = latest

As metrics-server does, nothing older is kept (this is not a time-series database), a point whose
cumulative CPU went backwards (the container restarted) gives no rate until the next scrape, and a pod is
reported only when every one of its running containers has a rate, so a pod's sum never hides a missing
container. A node that stops answering keeps its last window until it is gone from the cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

PodKey = tuple[str, str]  # namespace, name


@dataclass(frozen=True)
class Point:
    cpu_seconds: float
    memory: int
    at: float  # the kubelet's sample time, seconds


@dataclass(frozen=True)
class Usage:
    nano_cores: int
    memory: int
    timestamp: float
    window: float


@dataclass
class Batch:
    """One scrape of one kubelet."""

    node: Point | None = None
    containers: dict[PodKey, dict[str, Point]] = field(default_factory=dict)


def rate(previous: Point | None, latest: Point | None) -> Usage | None:
    if previous is None or latest is None or latest.at <= previous.at or latest.cpu_seconds < previous.cpu_seconds:
        return None
    window = latest.at - previous.at
    cores = (latest.cpu_seconds - previous.cpu_seconds) / window
    return Usage(int(cores * 1e9), latest.memory, latest.at, window)


class Storage:
    def __init__(self) -> None:
        self._previous: dict[str, Batch] = {}
        self._latest: dict[str, Batch] = {}

    def store(self, node: str, batch: Batch) -> None:
        latest = self._latest.get(node)
        if (
            latest is not None
            and batch.node is not None
            and latest.node is not None
            and batch.node.at <= latest.node.at
        ):
            return  # the kubelet answered from the same snapshot: no new point
        if latest is not None:
            self._previous[node] = latest
        self._latest[node] = batch

    def forget_except(self, nodes: set[str]) -> None:
        for gone in set(self._latest) - nodes:
            self._latest.pop(gone, None)
            self._previous.pop(gone, None)

    def node_usage(self, node: str) -> Usage | None:
        before, latest = self._previous.get(node), self._latest.get(node)
        return rate(before.node if before else None, latest.node if latest else None)

    def pods(self) -> Iterator[PodKey]:
        for batch in self._latest.values():
            yield from batch.containers

    def pod_usage(self, key: PodKey) -> list[tuple[str, Usage]] | None:
        for node, latest in self._latest.items():
            containers = latest.containers.get(key)
            if containers is None:
                continue
            before = self._previous.get(node)
            earlier = before.containers.get(key, {}) if before else {}
            out = []
            for name, point in sorted(containers.items()):
                usage = rate(earlier.get(name), point)
                if usage is None:
                    return None
                out.append((name, usage))
            return out or None
        return None
