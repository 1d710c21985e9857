"""HA control-plane benchmark: members joined one after another, then the loss of the member in use.

    sudo uv run python bench/ha_bench.py [--control-planes 3]

A real cluster in a temporary folder on free ports (the code of `skiff up --control-planes N`). It times:

* `up`: the first member and its node from nothing to the Node Ready (LocalCluster.up);
* each member's join (controlplane.scale to one more member): kubeadm-certs upload and download with the
  certificate key, own certificates, `etcdctl member add`, etcd, apiserver, scheduler, controllers, then
  the rolling rewire of every running process to the new address lists;
* after SIGKILL of the scheduler and of the controllers holding their Leases: until a standby holds each;
* after SIGKILL of every control-plane process of the first member (the one every client dials first):
  the time until a write succeeds through the same client (gRPC failover), and until a new Pod is
  scheduled (Pod created through the failed-over client, spec.nodeName set by a live scheduler).

Prints one JSON document; asserts nothing. Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import config_pb2, pod_pb2
from skiff_cli.cluster import controlplane, processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster
from skiff_client import ApiClient
from skiff_common import errors

KILLED = ("supervisor", "etcd", "apiserver", "scheduler", "controllers")


async def lease_takeover(local: LocalCluster, everyone: list[ClusterLayout]) -> dict[str, float]:
    """SIGKILL the process holding each Lease (found by the identity it logged); seconds until another
    holds it (the lease is 15 s, candidates retry every 2 s)."""
    admin = local.client_config()
    out = {}
    async with ApiClient.connect(admin.server, tls=admin.tls, wait_for_ready=True) as client:
        for lease, component in (("kube-scheduler", "scheduler"), ("kube-controller-manager", "controllers")):
            holder = (await client.get(lease_pb2.Lease, lease, "kube-system")).spec.holder_identity
            owner = next(m for m in everyone if f'"{holder}"' in (m.log_dir / f"{component}.log").read_text())
            pid = processes.running_pid(component, owner.pid_dir)
            if pid is None:
                continue
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            # polling the API is the point here
            while (await client.get(lease_pb2.Lease, lease, "kube-system")).spec.holder_identity == holder:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            out[f"{lease}_s"] = round(time.monotonic() - killed, 1)
    return out


async def after_loss(local: LocalCluster) -> dict[str, float]:
    admin = local.client_config()
    async with ApiClient.connect(admin.server, tls=admin.tls, wait_for_ready=True, timeout=30) as client:
        await client.list(config_pb2.ConfigMap, "default")  # connected to the first member
        for name in KILLED:
            pid = processes.running_pid(name, local.layout.pid_dir)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        cm = config_pb2.ConfigMap(api_version="v1", kind="ConfigMap")
        cm.metadata.name, cm.metadata.namespace = f"ha-bench-{secrets.token_hex(3)}", "default"
        while True:
            try:
                await client.create(cm)
                break
            except errors.Unavailable:
                await asyncio.sleep(0.05)
        written = time.monotonic()
        pod = pod_pb2.Pod(api_version="v1", kind="Pod")
        pod.metadata.name, pod.metadata.namespace = f"ha-bench-{secrets.token_hex(3)}", "default"
        pod.spec.containers.add(name="c", image="busybox", command=["sleep", "3600"])
        made = await client.create(pod)
        async for event in client.watch(
            pod_pb2.Pod, "default", field_selector=f"metadata.name={pod.metadata.name}",
            resource_version=made.metadata.resource_version,
        ):  # fmt: skip
            if event.object.spec.node_name:
                break
        scheduled = time.monotonic()
        await client.delete(pod_pb2.Pod, pod.metadata.name, "default", grace_period_seconds=0)
        return {"first_write_s": round(written - killed, 2), "new_pod_scheduled_s": round(scheduled - killed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--control-planes", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (the cluster's node needs namespaces, cgroups and mounts)")
    state = Path(tempfile.mkdtemp(prefix="skiff-ha-bench-"))
    layout = ClusterLayout.ephemeral(state, secrets.token_hex(3), pod_subnet=200 + secrets.randbelow(50))
    local = LocalCluster(layout, say=lambda _: None)
    result: dict[str, object] = {"load_average": os.getloadavg()[0]}
    try:
        start = time.monotonic()
        local.up()
        result["up_s"] = round(time.monotonic() - start, 1)
        joins = []
        for count in range(2, args.control_planes + 1):
            start = time.monotonic()
            controlplane.scale(layout, local.client_config(), count, lambda _: None)
            joins.append(round(time.monotonic() - start, 1))
        result["join_s"] = joins
        everyone = [layout, *controlplane.recorded_members(layout)]
        result["lease_taken_over_after_kill"] = asyncio.run(lease_takeover(local, everyone))
        result["loss_of_first_member"] = asyncio.run(after_loss(local))
    finally:
        controlplane.remove_all(layout, lambda _: None)
        local.down()
        shutil.rmtree(state, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
