"""A 3-node cluster with a node network (`skiff up --nodes 3`'s code in a temporary folder): each worker
runs its runtime, kubelet and proxy in a network namespace of its own with an address on the node
bridge; a pod on worker 1 reaches a pod on worker 2 by IP and the server sees the client pod's own IP
(no NAT between pods); a worker pod reaches a ClusterIP Service whose backend is on the other worker,
and cluster DNS; `skiff down`'s code then leaves no namespace, link, route, mount, cgroup or process.

The cluster is its own (not the shared e2e one): the node network must exist before its apiserver
starts, which listens on the node bridge."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from own_cluster import own_cluster
from skiff_cli import kubeconfig
from skiff_cli.clientconfig import save_client_config
from skiff_cli.cluster import cleanup, multinode, nodenet, processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster
from skiff_common.pki import identity_of

pytestmark = pytest.mark.slow
SKIFF = str(Path(sys.executable).parent / "skiff")


class Net:
    def __init__(self, cluster: LocalCluster, workers: list[ClusterLayout], env: dict[str, str]) -> None:
        self.cluster, self.workers, self.env = cluster, workers, env

    def skiff(self, *args: str, check: bool = True, stdin: str = "") -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [SKIFF, *args], capture_output=True, text=True, timeout=120, input=stdin, env=self.env, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"skiff {' '.join(args)}: {result.stdout}{result.stderr}")
        return result

    def wait(self, what: str, check, timeout: float = 90.0):  # type: ignore[no-untyped-def]
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")

    def pod(self, name: str) -> dict:  # type: ignore[type-arg]
        return json.loads(self.skiff("get", "pod", name, "-o", "json").stdout)


def ip_lines(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False).stdout


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    cluster = own_cluster(tmp_path_factory, "netcluster", node_net="10.254")
    layout, state = cluster.layout, cluster.layout.state_dir
    config = state / "client.yaml"
    save_client_config(cluster.client_config(), config)
    env = {**os.environ, "SKIFFCONFIG": str(config)}
    env["KUBECONFIG"] = str(kubeconfig.merge(layout.rest_url, cluster.tls["admin"], state / "kubeconfig"))
    workers = [multinode.worker_layout(layout, i) for i in (1, 2)]
    try:
        cluster.up()
        multinode.add_workers(layout, cluster.client_config(), cluster.pki.path("ca").read_bytes(), 3, print)
        yield Net(cluster, workers, env)
    finally:
        multinode.remove_workers(layout, print)
        cluster.down()
    for w in workers:  # nothing of any node is left
        for name in ("supervisor", "kubelet", "runtime", "proxy"):
            assert processes.running_pid(name, w.pid_dir) is None, name
        assert not nodenet.netns_exists(w.netns)
        assert w.netns not in ip_lines("netns", "list")
        assert not nodenet.link_exists(w.node_veth)
        assert w.pod_cidr.split("/")[0] not in ip_lines("route", "show")
        assert not cleanup.cgroup_dirs(w.cgroup_root)
        assert not cleanup.leftover_processes(w)
        assert not cleanup.mounts_below(w.state_dir)
    assert not nodenet.link_exists(layout.node_bridge)
    assert not cleanup.mounts_below(layout.state_dir)
    assert not cleanup.cgroup_dirs(layout.cgroup_root)


def fetch(net: Net, pod: str, url: str) -> str:
    """A page as the pod's busybox wget gets it (whose own -T crashes it: the shell's timeout bounds it)."""
    return net.skiff("exec", pod, "--", "sh", "-c", f"timeout 10 wget -qO- {url}", check=False).stdout


def busybox(name: str, node: str, command: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", command]}],
            },
        }
    )


def test_nodes_have_their_own_namespace_and_address(net: Net) -> None:
    layout = net.cluster.layout
    nodes = {n["metadata"]["name"]: n for n in json.loads(net.skiff("get", "nodes", "-o", "json").stdout)["items"]}
    for w in net.workers:
        node = nodes[w.node_name]
        assert {"type": "InternalIP", "address": w.node_ip} in node["status"]["addresses"]
        assert next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
        assert nodenet.netns_exists(w.netns)
        inside = subprocess.run(
            ["ip", "-n", w.netns, "route", "show"], capture_output=True, text=True, check=True
        ).stdout
        assert "default" not in inside  # nothing leaves through the host
        assert f"{layout.pod_cidr} via {layout.node_ip}" in inside
        kubelet = processes.running_pid("kubelet", w.pid_dir)
        assert kubelet is not None
        assert os.stat(f"/proc/{kubelet}/ns/net").st_ino == os.stat(f"/run/netns/{w.netns}").st_ino
        assert processes.running_pid("proxy", w.pid_dir) is not None
        serving = x509.load_pem_x509_certificate((w.pki_dir / "kubelet.crt").read_bytes())
        sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert ipaddress.ip_address(w.node_ip) in sans.get_values_for_type(x509.IPAddress)
        proxy_cert = x509.load_pem_x509_certificate((w.pki_dir / "proxy.crt").read_bytes())
        assert identity_of(proxy_cert).user == "system:kube-proxy"
    assert f"{net.workers[0].pod_cidr} via {net.workers[0].node_ip}" in ip_lines("route", "show")


def test_top_nodes_lists_every_node(net: Net) -> None:
    """skiff-metrics scrapes each Node's kubelet at its InternalIP (a worker's on the node bridge) over
    HTTPS, checking the kubelet's serving certificate against the cluster CA: `skiff top nodes` (the
    aggregated metrics.k8s.io) lists all three nodes."""
    names = {net.cluster.layout.node_name, *(w.node_name for w in net.workers)}

    def listed() -> set[str]:
        out = net.skiff("top", "nodes", "--no-headers", check=False).stdout
        # a node without metrics is listed as <unknown>, as kubectl top does: only measured ones count
        return {line.split()[0] for line in out.splitlines() if line.strip() and "<unknown>" not in line}

    net.wait("every node in skiff top nodes", lambda: names <= listed())
    raw = json.loads(net.skiff("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes").stdout)
    assert names <= {item["metadata"]["name"] for item in raw["items"]}


def test_pod_to_pod_across_nodes_without_nat_and_a_service(net: Net) -> None:
    w1, w2 = net.workers
    server = "web-" + secrets.token_hex(2)
    client = "client-" + secrets.token_hex(2)
    net.skiff(
        "apply",
        "-f",
        "-",
        stdin=busybox(
            server, w2.node_name, "mkdir -p /www && echo hello > /www/index.html && httpd -f -vv -p 8080 -h /www 2>&1"
        ),
    )
    net.skiff("apply", "-f", "-", stdin=busybox(client, w1.node_name, "sleep 3600"))
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": server},
        "spec": {"selector": {"app": server}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    net.skiff("apply", "-f", "-", stdin=json.dumps(svc))
    try:
        for name in (server, client):
            net.wait(f"{name} running", lambda n=name: net.pod(n).get("status", {}).get("phase") == "Running")
        server_ip, client_ip = net.pod(server)["status"]["podIP"], net.pod(client)["status"]["podIP"]
        assert ipaddress.ip_address(server_ip) in ipaddress.ip_network(w2.pod_cidr)
        assert ipaddress.ip_address(client_ip) in ipaddress.ip_network(w1.pod_cidr)
        got = net.wait(
            "the pod on worker 1 to reach the pod on worker 2",
            lambda: fetch(net, client, f"http://{server_ip}:8080/"),
        )
        assert "hello" in got
        # busybox httpd -vv logs each client's address: the client pod's own IP, not a node's (no NAT)
        # (read through the apiserver from worker 2's kubelet, on its node address, with its certificate)
        logs = net.wait("httpd's access log", lambda: net.skiff("logs", server).stdout)
        assert client_ip in logs, logs
        cluster_ip = json.loads(net.skiff("get", "service", server, "-o", "json").stdout)["spec"]["clusterIP"]
        via_service = net.wait(
            "the ClusterIP Service from worker 1",
            lambda: fetch(net, client, f"http://{cluster_ip}/"),
        )
        assert "hello" in via_service
        via_dns = net.wait(
            "the Service by its DNS name from worker 1",
            lambda: fetch(net, client, f"http://{server}/"),
        )
        assert "hello" in via_dns
    finally:
        net.skiff("delete", "service", server, check=False)
        net.skiff("delete", "pod", server, client, "--grace-period=0", check=False)


def test_a_killed_worker_kubelet_and_runtime_come_back(net: Net) -> None:
    """kill -9 worker 1's kubelet and runtime: its supervisor starts them again (in its namespace), the
    Node is Ready, and the pod that ran there before still runs the same container."""
    w1 = net.workers[0]
    pod = "survivor-" + secrets.token_hex(2)
    net.skiff("apply", "-f", "-", stdin=busybox(pod, w1.node_name, "sleep 3600"))
    try:
        net.wait(f"{pod} running", lambda: net.pod(pod).get("status", {}).get("phase") == "Running")
        container = net.pod(pod)["status"]["containerStatuses"][0]["containerID"]
        assert processes.running_pid("supervisor", w1.pid_dir) is not None
        old = {name: processes.running_pid(name, w1.pid_dir) for name in ("kubelet", "runtime")}
        for pid in old.values():
            assert pid is not None
            os.kill(pid, 9)
        for name, pid in old.items():
            net.wait(
                f"worker 1's {name} restarted",
                lambda n=name, p=pid: processes.running_pid(n, w1.pid_dir) not in (None, p),
            )
            new = processes.running_pid(name, w1.pid_dir)
            assert os.stat(f"/proc/{new}/ns/net").st_ino == os.stat(f"/run/netns/{w1.netns}").st_ino
        assert "restarting kubelet" in (w1.log_dir / "supervisor.log").read_text()

        def ready_and_running() -> bool:
            node = json.loads(net.skiff("get", "node", w1.node_name, "-o", "json").stdout)
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
            # exec goes apiserver -> the new kubelet -> the new runtime -> the container's supervisor
            alive = net.skiff("exec", pod, "--", "echo", "alive", check=False).stdout.strip() == "alive"
            return ready["status"] == "True" and alive

        net.wait("worker 1 Ready with its pod answering", ready_and_running)
        status = net.pod(pod)["status"]
        assert status["phase"] == "Running"
        assert status["containerStatuses"][0]["containerID"] == container
        assert status["containerStatuses"][0].get("restartCount", 0) == 0
    finally:
        net.skiff("delete", "pod", pod, "--grace-period=0", check=False)


def test_fewer_nodes_removes_a_worker_and_its_routes(net: Net) -> None:
    """`skiff up --nodes 2` on the 3-node cluster: worker 2 is reset, its Node deleted, and no route to
    its pods is left on the host or in worker 1's namespace."""
    layout, (w1, w2) = net.cluster.layout, net.workers
    multinode.add_workers(layout, net.cluster.client_config(), net.cluster.pki.path("ca").read_bytes(), 2, print)
    names = [n["metadata"]["name"] for n in json.loads(net.skiff("get", "nodes", "-o", "json").stdout)["items"]]
    assert w2.node_name not in names and w1.node_name in names
    assert not nodenet.netns_exists(w2.netns) and not nodenet.link_exists(w2.node_veth)
    assert processes.running_pid("kubelet", w2.pid_dir) is None
    assert w2.pod_cidr not in ip_lines("route", "show")
    assert w2.pod_cidr not in ip_lines("-n", w1.netns, "route", "show")
    assert f"{w1.pod_cidr} via {w1.node_ip}" in ip_lines("route", "show")
