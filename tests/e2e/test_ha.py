"""A highly available control plane (kubeadm's stacked topology) on this machine: three members, each an
etcd member, an apiserver, a scheduler and the controllers, built by `skiff up --control-planes 3`'s code.

The member the clients use first (the first one: every client's apiserver list starts with it) loses every
control-plane process to SIGKILL while a Deployment rolls and scales: no object is lost, a watch opened
before the kill sees every event (re-opened on another apiserver from its last resourceVersion, as the
informers do), pods are still created and scheduled (the standby scheduler and controllers take the
Leases), and the member rejoins when its processes are started again. The cluster is its own (it is taken
apart), in a temporary folder on free ports, and `skiff down`'s code removes every member after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from own_cluster import own_cluster
from polling import wait_for
from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import config_pb2
from skiff_cli import kubeconfig
from skiff_cli.clientconfig import save_client_config
from skiff_cli.cluster import certkeys, components, controlplane, members, processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster, etcd_healthy
from skiff_client import ApiClient
from skiff_client.informer import Informer
from skiff_common import errors

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

SKIFF = str(Path(sys.executable).parent / "skiff")
KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"
NAMESPACE = "default"
CONTROL_PLANE = ("etcd", "apiserver", "scheduler", "controllers")
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ha-web
spec:
  replicas: 2
  selector:
    matchLabels: {app: ha-web}
  template:
    metadata:
      labels: {app: ha-web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox
        command: ["sleep", "3600"]
        env: [{name: ROUND, value: "%s"}]
"""


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, list[ClusterLayout]]]:
    local = own_cluster(tmp_path_factory, "ha")
    layout, state_dir = local.layout, local.layout.state_dir
    try:
        local.up()
        everyone = controlplane.scale(layout, local.client_config(), 3, lambda line: print(f"[ha] {line}"))
        # `skiff` speaks REST to one apiserver (the kubeconfig keeps one server): one that stays up
        kubeconfig.merge(everyone[1].rest_url, local.tls["admin"], state_dir / "kubeconfig")
        save_client_config(local.client_config(), state_dir / "client.yaml")  # gRPC: every apiserver
        yield local, everyone
    finally:
        pids = [
            pid
            for member in controlplane.recorded_members(layout)
            for name in (*CONTROL_PLANE, "supervisor")
            if (pid := processes.running_pid(name, member.pid_dir)) is not None
        ]
        controlplane.remove_all(layout, print)
        local.down()
    assert not (state_dir / controlplane.MEMBERS_DIR).exists()
    assert not [pid for pid in pids if alive(pid)], "a member's process outlived skiff down"


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def skiff(local: LocalCluster, *args: str, stdin: str = "", check: bool = True) -> str:
    state = local.layout.state_dir
    env = {**os.environ, "KUBECONFIG": str(state / "kubeconfig"), "SKIFFCONFIG": str(state / "client.yaml")}
    done = subprocess.run([SKIFF, *args], capture_output=True, text=True, input=stdin, env=env, timeout=120)
    assert done.returncode == 0 or not check, f"skiff {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def kubernetes_endpoints(local: LocalCluster) -> list[tuple[str, int]]:
    """(ip, port) of every address `kubectl get endpoints kubernetes` lists, sorted."""
    env = {**os.environ, "KUBECONFIG": str(local.layout.state_dir / "kubeconfig")}
    args = [KUBECTL, "get", "endpoints", "kubernetes", "-n", "default", "-o", "json"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    subsets = json.loads(done.stdout).get("subsets", [])
    return sorted((a["ip"], p["port"]) for s in subsets for a in s.get("addresses", []) for p in s["ports"])


def advertised(member: ClusterLayout) -> tuple[str, int]:
    """Where a member's apiserver is listed: its --advertise-address and REST port."""
    return components.advertise_address(member), member.rest_port


def etcd_member_list(local: LocalCluster, everyone: list[ClusterLayout]) -> list[dict[str, Any]]:
    return members.etcd_members(local.etcd_tls["healthcheck-client"], [m.etcd_endpoint for m in everyone])


def rolled(local: LocalCluster, replicas: int, round_: str) -> bool:
    d = json.loads(skiff(local, "get", "deployment", "ha-web", "-o", "json"))
    st = d.get("status", {})
    if not (
        st.get("observedGeneration", 0) >= d["metadata"]["generation"]
        and st.get("updatedReplicas") == replicas
        and st.get("availableReplicas") == replicas
        and st.get("replicas") == replicas
    ):
        return False
    pods = json.loads(skiff(local, "get", "pods", "-l", "app=ha-web", "-o", "json"))["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    rounds = {p["spec"]["containers"][0]["env"][0]["value"] for p in live}
    return len(live) == replicas and rounds == {round_} and all(p["spec"].get("nodeName") for p in live)


def configmap(name: str) -> config_pb2.ConfigMap:
    cm = config_pb2.ConfigMap(api_version="v1", kind="ConfigMap", data={"n": name})
    cm.metadata.name, cm.metadata.namespace = name, NAMESPACE
    return cm


async def create(client: ApiClient, name: str) -> None:
    """Create, retrying a call cut off with its apiserver (the write may have landed: AlreadyExists then)."""
    for attempt in range(20):
        try:
            await client.create(configmap(name))
            return
        except errors.Unavailable:
            await asyncio.sleep(0.5)
        except errors.AlreadyExists:
            if attempt == 0:
                raise
            return
    raise AssertionError(f"configmap {name} could not be created on any apiserver")


async def watch_all(client: ApiClient, rv: str, seen: list[str], failovers: list[str]) -> None:
    """Every ConfigMap event from `rv` on; a broken stream is re-opened from the last resourceVersion (the
    informer's loop), which must never be too old."""
    while True:
        try:
            async for event in client.watch(config_pb2.ConfigMap, NAMESPACE, resource_version=rv):
                rv = event.object.metadata.resource_version
                if event.type != "BOOKMARK":
                    seen.append(f"{event.type} {event.object.metadata.name}")
        except (errors.Unavailable, errors.InternalError, errors.Timeout) as exc:
            failovers.append(str(exc))
            await asyncio.sleep(0.2)


def kill_control_plane(layout: ClusterLayout) -> list[int]:
    """SIGKILL every control-plane process of this member, its supervisor first (else it restarts them)."""
    names = ("supervisor", *CONTROL_PLANE)
    killed = []
    for name in names:
        pid = processes.running_pid(name, layout.pid_dir)
        assert pid is not None, f"{name} of {layout.node_name} is not running"
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    gone = lambda: all(processes.running_pid(n, layout.pid_dir) is None for n in names)  # noqa: E731
    wait_for("the killed processes to be gone (zombies count as gone)", gone, 10)
    return killed


def test_three_members_share_etcd_and_elect_one_leader(ha: tuple[LocalCluster, list[ClusterLayout]]) -> None:
    local, everyone = ha
    started = [m for m in etcd_member_list(local, everyone) if m.get("name")]
    assert len(started) == 3
    assert not [m["name"] for m in started if m.get("isLearner")]  # joined as learners, then promoted
    for member in everyone:
        assert etcd_healthy(member, local.etcd_tls["healthcheck-client"]), member.node_name
        for name in CONTROL_PLANE:
            argv = processes.recorded_argv(name, member.pid_dir) or []
            if name in ("scheduler", "controllers"):
                assert f"--apiserver={member.apiserver_address}" in argv
                assert len(member.apiserver_address.split(",")) == 3
            if name == "apiserver":
                assert any(a.startswith("--etcd-endpoints=") and a.count(",") == 2 for a in argv)
        assert "--leader-elect" in (processes.recorded_argv("scheduler", member.pid_dir) or [])
    kubelet = processes.recorded_argv("kubelet", local.layout.pid_dir) or []
    assert f"--apiserver={local.layout.apiserver_address}" in kubelet

    async def holders() -> set[str]:
        admin = local.client_config()
        async with ApiClient.connect(admin.server, tls=admin.tls) as client:
            names = ("kube-scheduler", "kube-controller-manager")
            leases = [await client.get(lease_pb2.Lease, n, "kube-system") for n in names]
        return {lease.spec.holder_identity for lease in leases}

    assert all(wait_for("both Leases held", lambda: asyncio.run(holders()), 60))
    recorded = asyncio.run(members.read_members(local.client_config()))
    assert sorted(m.name for m in recorded) == sorted(m.node_name for m in everyone)
    # the `kubernetes` Service names every member's apiserver (the lease endpoint reconciler)
    every = sorted(advertised(m) for m in everyone)
    assert len(set(every)) == 3
    listed = lambda: kubernetes_endpoints(local) == every  # noqa: E731
    wait_for("kubectl get endpoints kubernetes to list the three members", listed, 60)


def test_a_member_joins_by_certificate_key_and_leaves(ha: tuple[LocalCluster, list[ClusterLayout]]) -> None:
    """`skiff join --control-plane` as on another host: the shared keys come from kube-system/kubeadm-certs
    with the join token and the certificate key (a wrong key is refused); `skiff up --control-planes 3`'s
    code then takes the fourth member out again (etcd member remove, record, processes, folder)."""
    local, everyone = ha
    first = local.layout
    printed = skiff(
        local, "token", "create", "--upload-certs", "--print-join-command", "--state-dir", str(first.state_dir)
    )
    command = next(line for line in printed.splitlines() if line.startswith("skiff join "))
    assert "--control-plane --certificate-key " in command
    join = command.split()[1:]
    name = f"{first.node_name}-cp3"
    where = ["--node-name", name, "--pod-cidr", first.pod_cidr]
    wrong = [*join[:-1], "0" * 64, *where, "--state-dir", str(first.state_dir / "wrong")]
    assert "does not decrypt kube-system/kubeadm-certs" in skiff(local, *wrong, check=False)
    assert not (first.state_dir / "wrong" / "pki" / "ca.key").exists()

    member_dir = controlplane.members_dir(first) / name
    out = skiff(local, *join, *where, "--state-dir", str(member_dir))
    assert "joined the cluster as a control-plane member" in out
    assert f"[etcd] adding member {name} as a learner" in out
    joined = ClusterLayout.load(member_dir)
    assert len([m for m in etcd_member_list(local, everyone) if m.get("name")]) == 4
    assert not [m["name"] for m in etcd_member_list(local, everyone) if m.get("isLearner")]
    assert etcd_healthy(joined, local.etcd_tls["healthcheck-client"])
    assert name in {m.name for m in asyncio.run(members.read_members(local.client_config()))}
    # its own serving certificate, from the shared CA it decrypted
    assert (member_dir / "pki" / "ca.key").read_bytes() == (first.pki_dir / "ca.key").read_bytes()
    assert (member_dir / "pki" / "apiserver.crt").read_bytes() != (first.pki_dir / "apiserver.crt").read_bytes()

    # the Secret lives as long as its 2-hour TTL token: the token gone (as the token cleaner does at
    # expiry), the garbage collector deletes it
    async def certs_owner_gone() -> bool:
        admin = local.client_config()
        async with ApiClient.connect(admin.server, tls=admin.tls, wait_for_ready=True) as client:
            try:
                certs = await client.get(config_pb2.Secret, certkeys.SECRET, certkeys.NAMESPACE)
            except errors.NotFound:
                return True
            for owner in certs.metadata.owner_references:
                with contextlib.suppress(errors.NotFound):
                    await client.delete(config_pb2.Secret, owner.name, certkeys.NAMESPACE)
            return False

    wait_for("kube-system/kubeadm-certs deleted with its token", lambda: asyncio.run(certs_owner_gone()), 90)

    controlplane.scale(first, local.client_config(), 3, print)
    assert not member_dir.exists()
    assert len(etcd_member_list(local, everyone)) == 3
    assert name not in {m.name for m in asyncio.run(members.read_members(local.client_config()))}


def test_a_standby_takes_each_lease_when_its_leader_is_killed(ha: tuple[LocalCluster, list[ClusterLayout]]) -> None:
    local, everyone = ha

    async def holder(lease: str) -> str:
        admin = local.client_config()
        async with ApiClient.connect(admin.server, tls=admin.tls, wait_for_ready=True) as client:
            return (await client.get(lease_pb2.Lease, lease, "kube-system")).spec.holder_identity

    for lease, component in (("kube-scheduler", "scheduler"), ("kube-controller-manager", "controllers")):
        leader = wait_for(f"{lease} held", lambda lease=lease: asyncio.run(holder(lease)), 60)  # type: ignore[misc]
        # the member whose process logged acquiring it with that identity
        owner = next(
            m for m in everyone if f'"{leader}"' in (m.log_dir / f"{component}.log").read_text(errors="replace")
        )
        pid = processes.running_pid(component, owner.pid_dir)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        new = wait_for(
            f"another {component} to take {lease}",
            lambda lease=lease, leader=leader: (h := asyncio.run(holder(lease))) != leader and h,  # type: ignore[misc]
            90,
        )
        assert new != leader
        wait_for(
            f"{component} of {owner.node_name} restarted",
            lambda o=owner, c=component: processes.running_pid(c, o.pid_dir),
            60,
        )  # type: ignore[misc]


def test_losing_a_member_loses_no_object_no_event_and_no_scheduling(
    ha: tuple[LocalCluster, list[ClusterLayout]],
) -> None:
    local, everyone = ha
    first = local.layout
    skiff(local, "apply", "-f", "-", stdin=DEPLOYMENT % "1")
    wait_for("2 pods of round 1", lambda: rolled(local, 2, "1"), 180)

    async def scenario() -> tuple[int, int, list[str], list[str]]:
        admin = local.client_config()
        client = ApiClient.connect(admin.server, tls=admin.tls, wait_for_ready=True, timeout=60)
        try:
            for i in range(20):
                await create(client, f"before-{i}")
            listed = await client.list(config_pb2.ConfigMap, NAMESPACE)
            before = len(listed.items)
            seen: list[str] = []
            failovers: list[str] = []
            watcher = asyncio.create_task(watch_all(client, listed.resource_version, seen, failovers))
            # and an informer (what every controller uses) on the same client
            informer = Informer(client, config_pb2.ConfigMap, NAMESPACE)
            informed: list[str] = []
            informer.add_handler(on_add=lambda cm: informed.append(cm.metadata.name))
            informing = asyncio.create_task(informer.run())
            await informer.wait_synced()
            # a rollout and a scale-up in flight, then the member the clients use loses every process
            skiff(local, "apply", "-f", "-", stdin=(DEPLOYMENT % "2").replace("replicas: 2", "replicas: 3"))
            await asyncio.to_thread(kill_control_plane, first)
            for i in range(20):
                await create(client, f"after-{i}")
            await asyncio.to_thread(wait_for, "the rollout to 3 pods of round 2", lambda: rolled(local, 3, "2"), 240)
            after = len((await client.list(config_pb2.ConfigMap, NAMESPACE)).items)
            await asyncio.to_thread(
                wait_for, "every event", lambda: sum(s.startswith("ADDED after-") for s in seen) == 20, 60
            )
            await asyncio.to_thread(
                wait_for, "the informer's adds", lambda: {f"after-{i}" for i in range(20)} <= set(informed), 60
            )
            watcher.cancel()
            informing.cancel()
            # it resumed its watch from its resourceVersion on another apiserver: no relist
            assert informer.list_count == 1
            return before, after, seen, failovers
        finally:
            await client.close()

    before, after, seen, failovers = asyncio.run(scenario())
    assert after == before + 20
    assert [s for s in seen if s.startswith("ADDED after-")] == [f"ADDED after-{i}" for i in range(20)]
    assert failovers, "the watch never lost its apiserver: the killed member was not the one in use"

    # The killed apiserver left the `kubernetes` endpoints when its master lease expired.
    survivors = sorted(advertised(m) for m in everyone if m.node_name != first.node_name)
    wait_for(
        "the killed apiserver out of the kubernetes endpoints", lambda: kubernetes_endpoints(local) == survivors, 90
    )

    # The member rejoins: its supervisor starts every process again, and etcd counts it healthy.
    local.start_supervisor()
    wait_for("the first etcd member healthy again", lambda: etcd_healthy(first, local.etcd_tls["healthcheck-client"]))
    for name in CONTROL_PLANE:
        wait_for(f"{name} running again", lambda name=name: processes.running_pid(name, first.pid_dir), 60)  # type: ignore[misc]
    endpoints = [m.etcd_endpoint for m in everyone]
    health = members.etcdctl(local.etcd_tls["healthcheck-client"], endpoints, "endpoint", "health")
    assert health.count("is healthy") == 3, health
    every = sorted(advertised(m) for m in everyone)
    wait_for(
        "the restarted apiserver back in the kubernetes endpoints", lambda: kubernetes_endpoints(local) == every, 60
    )
    skiff(local, "delete", "deployment", "ha-web")
