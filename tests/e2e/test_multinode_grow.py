"""Growing a one-node cluster (`skiff up`, then `skiff up --nodes 3`, through the same code in a
temporary folder): the running cluster moves onto a node network (bridge, the apiserver's certificate
re-issued with the bridge address, every component but etcd restarted with the advertise flags, cluster-info
and the kube-dns Endpoints republished), then two workers join in namespaces of their own. A pod made
before the move keeps running; a pod on a worker resolves and reaches a Service; nothing is left after.

The cluster is its own (not the shared e2e one), as the move restarts its components."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from own_cluster import own_cluster
from polling import wait_for as wait
from skiff_cli import kubeconfig
from skiff_cli.clientconfig import save_client_config
from skiff_cli.cluster import cleanup, multinode, nodenet, processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster

pytestmark = pytest.mark.slow
SKIFF = str(Path(sys.executable).parent / "skiff")


def run(env: dict[str, str], *args: str, stdin: str = "", check: bool = True) -> str:
    result = subprocess.run(
        [SKIFF, *args], capture_output=True, text=True, timeout=120, input=stdin, env=env, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"skiff {' '.join(args)}: {result.stdout}{result.stderr}")
    return result.stdout


def busybox(name: str, node: str, command: str, tolerate: bool = False) -> str:
    spec: dict = {  # type: ignore[type-arg]
        "nodeName": node,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", command]}],
    }
    if tolerate:
        spec["tolerations"] = [{"operator": "Exists"}]
    return json.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}}, "spec": spec}
    )


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, list[ClusterLayout], dict]]:  # type: ignore[type-arg]
    cluster = own_cluster(tmp_path_factory, "grow")
    layout, state = cluster.layout, cluster.layout.state_dir
    config = state / "client.yaml"
    save_client_config(cluster.client_config(), config)
    env = {**os.environ, "SKIFFCONFIG": str(config)}
    env["KUBECONFIG"] = str(kubeconfig.merge(layout.rest_url, cluster.tls["admin"], state / "kubeconfig"))
    workers: list[ClusterLayout] = []
    try:
        cluster.up()  # `skiff up`: one node, no node network
        assert not layout.node_cidr
        before = "before-" + secrets.token_hex(2)
        run(env, "apply", "-f", "-", stdin=busybox(before, layout.node_name, "sleep 3600"))
        wait(f"{before} running", lambda: '"Running"' in run(env, "get", "pod", before, "-o", "json"))
        # `skiff up --nodes 3` on it (commands/up.py's steps)
        saved = ClusterLayout.load(state)
        assert multinode.needs_node_network(saved, 3)
        multinode.use_node_network(saved, f"10.254.{secrets.randbelow(250)}.0/24")
        cluster = LocalCluster(saved, say=lambda line: print(f"[grow] {line}"))
        cluster.up(restart=True)
        multinode.add_workers(saved, cluster.client_config(), cluster.pki.path("ca").read_bytes(), 3, print)
        workers = multinode.joined_workers(saved)
        env["pod"] = before
        yield cluster, workers, env
    finally:
        multinode.remove_workers(cluster.layout, print)
        cluster.down()
    for w in workers:
        assert not nodenet.netns_exists(w.netns)
        assert not cleanup.cgroup_dirs(w.cgroup_root)
        assert not cleanup.leftover_processes(w)
        assert processes.running_pid("supervisor", w.pid_dir) is None
    assert not nodenet.link_exists(cluster.layout.node_bridge)
    assert not cleanup.mounts_below(cluster.layout.state_dir)
    assert not cleanup.cgroup_dirs(cluster.layout.cgroup_root)


def test_the_grown_cluster_is_on_the_node_network(grown) -> None:  # type: ignore[no-untyped-def]
    cluster, workers, env = grown
    layout = cluster.layout
    assert len(workers) == 2 and all(w.netns for w in workers)
    serving = x509.load_pem_x509_certificate(Path(cluster.tls["apiserver"].cert_file).read_bytes())
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address(layout.node_ip) in sans.get_values_for_type(x509.IPAddress)
    nodes = json.loads(run(env, "get", "nodes", "-o", "json"))["items"]
    ready = {
        n["metadata"]["name"]
        for n in nodes
        if next(c for c in n["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
    }
    assert {layout.node_name, *(w.node_name for w in workers)} <= ready
    # the pod made before the move was never restarted
    pod = json.loads(run(env, "get", "pod", env["pod"], "-o", "json"))
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["containerStatuses"][0].get("restartCount", 0) == 0
    assert run(env, "exec", env["pod"], "--", "echo", "alive").strip() == "alive"


def test_a_worker_pod_reaches_a_service_by_name(grown) -> None:  # type: ignore[no-untyped-def]
    _, (w1, w2), env = grown
    server, client = "web-" + secrets.token_hex(2), "client-" + secrets.token_hex(2)
    page = "mkdir -p /www && echo hello > /www/index.html && httpd -f -p 8080 -h /www"
    run(env, "apply", "-f", "-", stdin=busybox(server, w2.node_name, page))
    run(env, "apply", "-f", "-", stdin=busybox(client, w1.node_name, "sleep 3600"))
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": server},
        "spec": {"selector": {"app": server}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    run(env, "apply", "-f", "-", stdin=json.dumps(svc))
    try:
        for name in (server, client):
            wait(f"{name} running", lambda n=name: '"Running"' in run(env, "get", "pod", n, "-o", "json"))
        got = wait(
            "the Service by its DNS name from worker 1",
            lambda: run(env, "exec", client, "--", "sh", "-c", f"timeout 10 wget -qO- http://{server}/", check=False),
        )
        assert "hello" in got
    finally:
        run(env, "delete", "service", server, check=False)
        run(env, "delete", "pod", server, client, "--grace-period=0", check=False)
