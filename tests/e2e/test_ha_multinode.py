"""An HA control plane and workers in one cluster (`skiff up --nodes 2 --control-planes 2`'s code, in a
temporary folder): the members run in the host's namespace and the worker in its own, so every member
also serves on the node bridge's host address, on its own ports, and names it in its certificate.
The worker learns every member there from cluster-info; the `kubernetes` Service lists them there too.
With the first member's apiserver killed, the worker's kubelet fails over to the other member and still
starts a pod. Nothing is left after."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from own_cluster import own_cluster
from polling import wait_for
from skiff_cli import kubeconfig
from skiff_cli.clientconfig import save_client_config
from skiff_cli.cluster import cleanup, controlplane, multinode, nodenet, processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster

pytestmark = pytest.mark.slow
SKIFF = str(Path(sys.executable).parent / "skiff")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, list[ClusterLayout], dict]]:  # type: ignore[type-arg]
    local = own_cluster(tmp_path_factory, "hanodes", node_net="10.253")
    layout, state = local.layout, local.layout.state_dir
    workers: list[ClusterLayout] = []
    try:
        local.up()
        members = controlplane.scale(layout, local.client_config(), 2, print)
        multinode.add_workers(layout, local.client_config(), local.pki.path("ca").read_bytes(), 2, print)
        workers = multinode.joined_workers(layout)
        save_client_config(local.client_config(), state / "client.yaml")  # gRPC: every apiserver
        env = {**os.environ, "SKIFFCONFIG": str(state / "client.yaml")}
        # REST to the member that stays up (a kubeconfig names one server)
        env["KUBECONFIG"] = str(kubeconfig.merge(members[1].rest_url, local.tls["admin"], state / "kubeconfig"))
        yield local, [*members, *workers], env
    finally:
        multinode.remove_workers(layout, print)
        controlplane.remove_all(layout, print)
        local.down()
    for w in workers:
        assert not nodenet.netns_exists(w.netns)
        assert not cleanup.leftover_processes(w)
    assert not nodenet.link_exists(layout.node_bridge)
    assert not cleanup.mounts_below(layout.state_dir)
    assert not cleanup.cgroup_dirs(layout.cgroup_root)


def skiff(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run([SKIFF, *args], capture_output=True, text=True, input=stdin, env=env, timeout=120)
    assert done.returncode == 0, f"skiff {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def test_every_member_serves_the_worker_on_the_node_bridge(cluster) -> None:  # type: ignore[no-untyped-def]
    _, (first, member, worker), env = cluster
    bridge = first.node_ip
    assert member.node_ip == bridge and not member.netns  # the member itself stays in the host's namespace
    cert = x509.load_pem_x509_certificate((member.pki_dir / "apiserver.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address(bridge) in sans.get_values_for_type(x509.IPAddress)
    advertised = [f"{bridge}:{first.apiserver_port}", f"{bridge}:{member.apiserver_port}"]
    assert f"--apiserver={','.join(advertised)}" in (processes.recorded_argv("kubelet", worker.pid_dir) or [])
    endpoints = json.loads(skiff(env, "get", "endpoints", "kubernetes", "-o", "json"))
    served = {(a["ip"], p["port"]) for s in endpoints["subsets"] for a in s["addresses"] for p in s["ports"]}
    assert served == {(bridge, first.rest_port), (bridge, member.rest_port)}


def test_the_worker_fails_over_when_the_first_apiserver_dies(cluster) -> None:  # type: ignore[no-untyped-def]
    _, (first, _member, worker), env = cluster
    supervisor = processes.running_pid("supervisor", first.pid_dir)
    apiserver = processes.running_pid("apiserver", first.pid_dir)
    assert supervisor and apiserver
    os.kill(supervisor, signal.SIGSTOP)  # else it starts the apiserver again at once
    try:
        os.kill(apiserver, signal.SIGKILL)
        name = "after-" + secrets.token_hex(2)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "nodeName": worker.node_name,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
            },
        }
        skiff(env, "apply", "-f", "-", stdin=json.dumps(pod))
        running = lambda: json.loads(skiff(env, "get", "pod", name, "-o", "json"))["status"].get("phase") == "Running"  # noqa: E731
        wait_for(f"{name} Running on {worker.node_name} with the first apiserver down", running, 120)
        skiff(env, "delete", "pod", name, "--grace-period=0")
    finally:
        os.kill(supervisor, signal.SIGCONT)
