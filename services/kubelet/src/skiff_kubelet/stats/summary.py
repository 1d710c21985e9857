"""The kubelet Summary API (`/stats/summary`, stats/v1alpha1) rendered from a Snapshot.

Field names and nesting are Kubernetes' (`k8s.io/kubelet/pkg/apis/stats/v1alpha1`), so metrics-server,
`kubectl get --raw /api/v1/nodes/<node>/proxy/stats/summary` readers and dashboards parse it unchanged.
Values Skiff does not measure are left out rather than reported as zero, as the kubelet does.
"""

from __future__ import annotations

import time
from typing import Any

from skiff_kubelet.stats import host
from skiff_kubelet.stats.collector import ContainerSample, PodSample, Snapshot


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _cpu(at: str, cpu_ns: int, nano_cores: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"time": at, "usageCoreNanoSeconds": cpu_ns}
    if nano_cores is not None:
        out["usageNanoCores"] = nano_cores
    return out


def _network(at: str, interfaces: list[host.Interface]) -> dict[str, Any]:
    rows = [
        {"name": i.name, "rxBytes": i.rx_bytes, "rxErrors": i.rx_errors, "txBytes": i.tx_bytes, "txErrors": i.tx_errors}
        for i in interfaces
    ]
    out: dict[str, Any] = {"time": at, "interfaces": rows}
    if rows:  # the default interface's counters are repeated at the top, as the kubelet does
        out.update(rows[0])
    return out


def _fs(at: str, fs: host.Filesystem | None) -> dict[str, Any]:
    if fs is None:
        return {"time": at}
    return {
        "time": at,
        "availableBytes": fs.available,
        "capacityBytes": fs.capacity,
        "usedBytes": fs.used,
        "inodesFree": fs.inodes_free,
        "inodes": fs.inodes,
        "inodesUsed": fs.inodes - fs.inodes_free,
    }


def _container(at: str, c: ContainerSample, fs: host.Filesystem | None) -> dict[str, Any]:
    rootfs = {"time": at, "usedBytes": c.rootfs_used, "inodesUsed": c.rootfs_inodes}
    if fs is not None:
        rootfs.update(availableBytes=fs.available, capacityBytes=fs.capacity)
    out: dict[str, Any] = {
        "name": c.name,
        "cpu": _cpu(at, c.cpu_ns, c.nano_cores),
        "memory": {"time": at, "usageBytes": c.memory_usage, "workingSetBytes": c.memory_working_set},
        "rootfs": rootfs,
    }
    if c.start_time:
        out["startTime"] = c.start_time
    return out


def _pod(at: str, p: PodSample, fs: host.Filesystem | None) -> dict[str, Any]:
    rootfs = sum(c.rootfs_used for c in p.containers)
    out: dict[str, Any] = {
        "podRef": {"name": p.name, "namespace": p.namespace, "uid": p.uid},
        "containers": [_container(at, c, fs) for c in p.containers],
        "cpu": _cpu(at, p.cpu_ns, p.nano_cores),
        "memory": {"time": at, "usageBytes": p.memory_usage, "workingSetBytes": p.memory_working_set},
        "network": _network(at, p.interfaces),
        # As Kubernetes counts it: writable layers, logs, local ephemeral volumes and etc-hosts.
        "ephemeral-storage": {
            **_fs(at, fs),
            "usedBytes": rootfs + p.logs_bytes + sum(p.volumes.values()) + p.etc_hosts,
        },
    }
    if p.volumes:
        fs_part = {"availableBytes": fs.available, "capacityBytes": fs.capacity} if fs is not None else {}
        out["volume"] = [{"time": at, "name": n, "usedBytes": u, **fs_part} for n, u in sorted(p.volumes.items())]
    if p.start_time:
        out["startTime"] = p.start_time
    return out


def summary(snap: Snapshot) -> dict[str, Any]:
    at = rfc3339(snap.timestamp)
    node = snap.node
    memory: dict[str, Any] = {
        "time": at,
        "usageBytes": node.memory.usage,
        "workingSetBytes": node.memory.working_set,
        "availableBytes": node.memory.available,
    }
    if snap.memory_capacity:  # the eviction manager's memory.available: capacity - working set
        memory["availableBytes"] = max(snap.memory_capacity - node.memory.working_set, 0)
    return {
        "node": {
            "nodeName": snap.node_name,
            "startTime": rfc3339(node.boot_time),
            "cpu": _cpu(at, node.cpu_ns, snap.node_nano_cores),
            "memory": memory,
            "network": _network(at, node.interfaces),
            "fs": _fs(at, node.fs),
            "runtime": {"imageFs": _fs(at, node.fs)},
        },
        "pods": [_pod(at, p, node.fs) for p in snap.pods],
    }
