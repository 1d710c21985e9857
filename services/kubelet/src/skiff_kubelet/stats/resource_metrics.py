"""`/metrics/resource` and `/metrics/cadvisor` in Prometheus' text format, rendered from a Snapshot.

`/metrics/resource` is what metrics-server scrapes (kubelet's names: cumulative CPU seconds and memory
working set for the node, each pod and each container, with the sample's timestamp in milliseconds, so a
scraper computes rates over the kubelet's own sampling times, not over its scrape times).
`/metrics/cadvisor` carries cAdvisor's container series (`container_cpu_usage_seconds_total`,
`container_memory_working_set_bytes`, network and filesystem counters) for Prometheus and custom metrics.
Rendered by hand: prometheus_client's registry would keep one child per pod and container forever.
"""

from __future__ import annotations

from collections.abc import Iterable

from skiff_kubelet.stats.collector import ContainerSample, PodSample, Snapshot


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _family(name: str, kind: str, help_: str, rows: Iterable[tuple[str, float]], ts: str = "") -> list[str]:
    out = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    out += [f"{name}{labels} {value:.9g}{ts}" for labels, value in rows]
    return out


def resource(snap: Snapshot) -> str:
    ts = f" {int(snap.timestamp * 1000)}"
    containers = [(p, c) for p in snap.pods for c in p.containers]
    lines = _family(
        "container_cpu_usage_seconds_total",
        "counter",
        "[STABLE] Cumulative cpu time consumed by the container in core-seconds",
        ((_labels(container=c.name, namespace=p.namespace, pod=p.name), c.cpu_ns / 1e9) for p, c in containers),
        ts,
    )
    lines += _family(
        "container_memory_working_set_bytes",
        "gauge",
        "[STABLE] Current working set of the container in bytes",
        ((_labels(container=c.name, namespace=p.namespace, pod=p.name), c.memory_working_set) for p, c in containers),
        ts,
    )
    lines += _family(
        "node_cpu_usage_seconds_total",
        "counter",
        "[STABLE] Cumulative cpu time consumed by the node in core-seconds",
        [("", snap.node.cpu_ns / 1e9)],
        ts,
    )
    lines += _family(
        "node_memory_working_set_bytes",
        "gauge",
        "[STABLE] Current working set of the node in bytes",
        [("", snap.node.memory.working_set)],
        ts,
    )
    lines += _family(
        "pod_cpu_usage_seconds_total",
        "counter",
        "[STABLE] Cumulative cpu time consumed by the pod in core-seconds",
        ((_labels(namespace=p.namespace, pod=p.name), p.cpu_ns / 1e9) for p in snap.pods),
        ts,
    )
    lines += _family(
        "pod_memory_working_set_bytes",
        "gauge",
        "[STABLE] Current working set of the pod in bytes",
        ((_labels(namespace=p.namespace, pod=p.name), p.memory_working_set) for p in snap.pods),
        ts,
    )
    lines += _family(
        "resource_scrape_error",
        "gauge",
        "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise",
        [("", 0)],
    )
    return "\n".join(lines) + "\n"


def cadvisor(snap: Snapshot) -> str:
    ts = f" {int(snap.timestamp * 1000)}"
    containers = [(p, c) for p in snap.pods for c in p.containers]

    def labels(p: PodSample, c: ContainerSample) -> str:
        return _labels(container=c.name, id=c.id, namespace=p.namespace, pod=p.name)

    lines = _family(
        "container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.",
        ((labels(p, c), c.cpu_ns / 1e9) for p, c in containers), ts,
    )  # fmt: skip
    lines += _family(
        "container_memory_working_set_bytes", "gauge", "Current working set in bytes.",
        ((labels(p, c), c.memory_working_set) for p, c in containers), ts,
    )  # fmt: skip
    lines += _family(
        "container_memory_usage_bytes", "gauge",
        "Current memory usage in bytes, including all memory regardless of when it was accessed",
        ((labels(p, c), c.memory_usage) for p, c in containers), ts,
    )  # fmt: skip
    lines += _family(
        "container_fs_usage_bytes", "gauge", "Number of bytes that are consumed by the container on this filesystem.",
        ((labels(p, c), c.rootfs_used) for p, c in containers), ts,
    )  # fmt: skip
    nets = [(p, i) for p in snap.pods for i in p.interfaces]
    lines += _family(
        "container_network_receive_bytes_total", "counter", "Cumulative count of bytes received",
        ((_labels(interface=i.name, namespace=p.namespace, pod=p.name), i.rx_bytes) for p, i in nets), ts,
    )  # fmt: skip
    lines += _family(
        "container_network_transmit_bytes_total", "counter", "Cumulative count of bytes transmitted",
        ((_labels(interface=i.name, namespace=p.namespace, pod=p.name), i.tx_bytes) for p, i in nets), ts,
    )  # fmt: skip
    return "\n".join(lines) + "\n"
