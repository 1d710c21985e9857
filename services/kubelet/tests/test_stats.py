"""Kubelet resource statistics: the parsers on real /proc formats (tables), and on real parts (etcd,
apiserver, skiff-runtime, the kernel's cgroups) a CPU-burning pod shows up in /stats/summary,
/metrics/resource and /metrics/cadvisor with its CPU rate, memory and network, from one shared snapshot."""

from __future__ import annotations

import asyncio
import re
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from skiff.api.core.v1 import pod_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_kubelet.app import Kubelet
from skiff_kubelet.stats import host
from test_e2e import busybox_pod, kubelet_config

PROC_STAT = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nbtime 1700000000\n"
MEMINFO = "MemTotal:       1000 kB\nMemFree:         200 kB\nMemAvailable:    600 kB\nInactive(file):  300 kB\n"
NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier
    lo:  999 9 0 0 0 0 0 0 999 9 0 0 0 0 0 0
  eth0: 1500 10 2 0 0 0 0 0 700 5 1 0 0 0 0 0
"""


def test_cpu_usage_excludes_idle_and_iowait() -> None:
    tick = 10**9 // host.os.sysconf("SC_CLK_TCK")
    assert host.cpu_usage_ns(PROC_STAT) == (100 + 5 + 50 + 3 + 2 + 1) * tick


def test_memory_working_set_is_usage_minus_inactive_file() -> None:
    m = host.memory(MEMINFO)
    assert (m.usage, m.working_set, m.available) == (800 * 1024, 500 * 1024, 500 * 1024)


def test_interfaces_skip_loopback() -> None:
    assert host.interfaces(NET_DEV) == [host.Interface("eth0", 1500, 2, 700, 1)]


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return str(resp.read().decode())


@pytest.mark.root
@pytest.mark.etcd
async def test_stats_of_a_busy_pod(client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path) -> None:
    cfg = kubelet_config(apiserver, runtime, tmp_path, metrics_address="127.0.0.1:0")
    kubelet = Kubelet(cfg)
    await kubelet.start()
    kubelet.stats.max_age = 0.5
    try:
        name = f"burn-{uuid.uuid4().hex[:6]}"
        pod = busybox_pod(name, "dd if=/dev/zero of=/cache/fill bs=1024 count=512; while :; do :; done")
        pod.spec.node_name = cfg.node_name
        pod.spec.volumes.add(name="cache").empty_dir.SetInParent()
        pod.spec.containers[0].volume_mounts.add(name="cache", mount_path="/cache")
        pod.spec.containers[0].resources.limits["cpu"].value = "200m"
        await client.create(pod)

        async def running() -> pod_pb2.Pod | None:
            p = await client.get(pod_pb2.Pod, name, "default")
            return p if p.status.phase == "Running" else None

        await eventually(running, "pod Running")
        port = kubelet.stats_server.port

        async def busy_summary() -> dict[str, Any] | None:
            await asyncio.sleep(0.6)
            body = await asyncio.to_thread(_get, port, "/stats/summary")
            import json

            data = json.loads(body)
            pods = [p for p in data["pods"] if p["podRef"]["name"] == name]
            if pods and pods[0]["containers"] and pods[0]["cpu"].get("usageNanoCores", 0) > 50_000_000:
                return data
            return None

        data = await eventually(busy_summary, "a busy pod in /stats/summary")
        node = data["node"]
        assert node["nodeName"] == cfg.node_name
        assert node["cpu"]["usageCoreNanoSeconds"] > 0 and node["memory"]["workingSetBytes"] > 0
        assert node["fs"]["capacityBytes"] > node["fs"]["availableBytes"] > 0
        (entry,) = [p for p in data["pods"] if p["podRef"]["name"] == name]
        assert entry["podRef"] == {"name": name, "namespace": "default", "uid": entry["podRef"]["uid"]}
        (container,) = entry["containers"]
        assert container["name"] == "main" and container["memory"]["workingSetBytes"] > 0
        # The CFS quota (200m) caps the rate: a limit the kernel enforces shows in the numbers.
        assert container["cpu"]["usageNanoCores"] < 400_000_000
        assert "startTime" in container and "startTime" in entry
        assert [i["name"] for i in entry["network"]["interfaces"]] == ["eth0"]
        # The emptyDir measured as du does, and counted in the pod's ephemeral storage, as Kubernetes does.
        (volume,) = entry["volume"]
        assert volume["name"] == "cache" and volume["usedBytes"] >= 512 * 1024
        assert entry["ephemeral-storage"]["usedBytes"] >= volume["usedBytes"]

        resource = await asyncio.to_thread(_get, port, "/metrics/resource")
        row = re.search(
            rf'^container_cpu_usage_seconds_total{{container="main",namespace="default",pod="{name}"}} (\S+) (\d+)$',
            resource,
            re.M,
        )
        assert row and float(row.group(1)) > 0, resource
        assert re.search(
            rf'^container_memory_working_set_bytes{{container="main",namespace="default",pod="{name}"}} ',
            resource,
            re.M,
        )
        assert re.search(r"^node_cpu_usage_seconds_total \S+ \d+$", resource, re.M)
        cadvisor = await asyncio.to_thread(_get, port, "/metrics/cadvisor")
        assert f'pod="{name}"' in cadvisor and "container_network_receive_bytes_total" in cadvisor
        # Readers share snapshots: three reads within max_age cost one collection.
        kubelet.stats.max_age = 60
        before = kubelet.stats.collections
        await kubelet.stats.get()
        for path in ("/stats/summary", "/metrics/resource", "/metrics/cadvisor"):
            await asyncio.to_thread(_get, port, path)
        assert kubelet.stats.collections - before <= 1
        await client.delete(pod_pb2.Pod, name, "default")
    finally:
        await kubelet.stop()
