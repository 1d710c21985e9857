"""`helm install` for real: the chart installed by the real `helm` binary onto a Skiff cluster, through
Skiff's Kubernetes REST API, with images from the cluster's own registry. A second Skiff control plane
(etcd, apiserver, scheduler, controllers, DNS) comes up inside Skiff as pods, its apiserver answers
/readyz and serves its REST API, and `helm uninstall` removes it. Helm is then a real client of Skiff,
as it is of Kubernetes.

Runs only with the `compose` marker (`make test-compose`; minutes the first time, while the images are
built). Images are built as tests/compose builds them: a private dockerd started with `--bridge=none
--iptables=false` (Docker's own networks use address ranges this project must not touch) on a cached
data root; the base image is re-imported without device nodes, which Skiff's runtime refuses in image
layers. They are pushed to the Skiff cluster's registry on 127.0.0.1 only. What the chart needs that
Skiff does not serve yet is switched off by values, and said so below: StatefulSets and volume
provisioning (etcd runs as a Deployment on an emptyDir) and PodDisruptionBudgets (policy/v1).
Everything is removed at the end: the release, the cluster (pods, mounts, bridge, cgroups, nftables),
the daemon.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import ssl
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from docker_daemon import private_dockerd, run, wait
from skiff_cli import kubeconfig
from skiff_cli.clientconfig import save_client_config
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.compose, pytest.mark.root]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SKIFF, HELM = str(BIN / "skiff"), str(BIN / "helm")
# Docker's images are kept between runs (shared with tests/compose); its daemon is not.
BASE, BASE_NO_DEVICES = "skiff/base:bookworm", "skiff/base:bookworm-nodev"
SKIFF_IMAGE, ETCD_IMAGE = "skiff/skiff:helm", "skiff/etcd:helm"
RELEASE = NAMESPACE = "skiffcp"
COMPONENTS = ("apiserver", "scheduler", "controllers", "dns")
TAG = "helm"


@pytest.fixture(scope="module")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("helm install tests need root (a Skiff cluster and a docker daemon)")
    with private_dockerd(tmp_path_factory.mktemp("docker"), ("mmdebstrap",)) as env:
        yield env


@pytest.fixture(scope="module")
def images(docker: dict[str, str]) -> dict[str, str]:
    """Every Skiff program in one image (the Dockerfile without PACKAGE) and etcd from Debian's package,
    on the base without device nodes."""
    scripts = REPO / "scripts" / "images"
    run(str(scripts / "build-base-image.sh"), env=docker)
    run(str(scripts / "build-base-image.sh"), "--from", BASE, env={**docker, "SKIFF_BASE_IMAGE": BASE_NO_DEVICES})
    for dockerfile, tag in (("Dockerfile", SKIFF_IMAGE), ("etcd.Dockerfile", ETCD_IMAGE)):
        run(
            *("docker", "build", "--network=host", "-f", str(REPO / "images" / dockerfile)),
            *("--build-arg", f"BASE={BASE_NO_DEVICES}", "-t", tag, str(REPO)),
            env=docker,
        )
    return docker


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, dict[str, str]]]:
    """A one-node Skiff cluster, as tests/e2e's (`skiff up`'s code on free ports and its own bridge)."""
    if os.geteuid() != 0:
        pytest.skip("helm install tests need root (a Skiff cluster and a docker daemon)")
    state = tmp_path_factory.mktemp("cluster")
    layout = ClusterLayout.ephemeral(state, os.urandom(3).hex(), pod_subnet=200 + int.from_bytes(os.urandom(1)) % 50)
    local = LocalCluster(layout, say=lambda line: print(f"[cluster] {line}"))
    save_client_config(local.client_config(), state / "client.yaml")
    try:
        local.up()
        config = kubeconfig.merge(layout.rest_url, local.tls["admin"], state / "kubeconfig")
        yield local, {**os.environ, "KUBECONFIG": str(config), "SKIFFCONFIG": str(state / "client.yaml")}
    finally:
        local.down()
        shutil.rmtree(state, ignore_errors=True)  # the registry's and the runtime's copies of the images


@pytest.fixture(scope="module")
def registry(images: dict[str, str], cluster: tuple[LocalCluster, dict[str, str]]) -> Iterator[str]:
    """The images pushed into the Skiff cluster's registry (127.0.0.1); returns its prefix for the chart."""
    prefix = f"127.0.0.1:{cluster[0].layout.registry_port}/skiff"
    pushed = [(SKIFF_IMAGE, f"{prefix}/skiff-{c}:{TAG}") for c in COMPONENTS] + [(ETCD_IMAGE, f"{prefix}/etcd:{TAG}")]
    try:
        for source, target in pushed:
            run("docker", "tag", source, target, env=images)
            run("docker", "push", "--quiet", target, env=images, timeout=900)
        yield prefix
    finally:
        for _, target in pushed:  # only the names: the layers stay cached under the tags built above
            run("docker", "rmi", target, env=images, check=False)


def values(prefix: str) -> dict[str, Any]:
    return {
        "image": {"registry": prefix, "tag": TAG, "pullPolicy": "IfNotPresent"},
        # Skiff serves no StatefulSets or PersistentVolumeClaims yet: etcd's data on an emptyDir.
        "etcd": {"workload": "Deployment", "image": {"repository": f"{prefix}/etcd", "tag": TAG}},
        # nor policy/v1 PodDisruptionBudgets
        "podDisruptionBudget": {"enabled": False},
        "apiserver": {"replicas": 1, "service": {"type": "NodePort"}},
        **{name: {"replicas": 1} for name in ("scheduler", "controllers", "dns")},
    }


@pytest.fixture(scope="module")
def release(
    registry: str, cluster: tuple[LocalCluster, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The release installed: certificates made outside the cluster, one Secret per component created from
    them with scripts/helm-secrets.py, then `helm install`, as docs/operations.md tells an operator."""
    env = cluster[1]
    work = tmp_path_factory.mktemp("release")
    pki = work / "pki"
    hosts = f"{RELEASE}-apiserver,{RELEASE}-apiserver.{NAMESPACE}.svc,{RELEASE}-etcd"
    run(SKIFF, "certs", "--dir", str(pki), "--hosts", hosts, env=env)
    run(SKIFF, "create", "namespace", NAMESPACE, env=env)
    secrets = run(
        sys.executable, str(REPO / "scripts" / "helm-secrets.py"), "--dir", str(pki), "--release", RELEASE, env=env
    )
    (work / "secrets.json").write_text(secrets.stdout)
    run(SKIFF, "apply", "-n", NAMESPACE, "-f", str(work / "secrets.json"), env=env)
    (work / "values.yaml").write_text(yaml.safe_dump(values(registry)))
    chart = str(REPO / "helm" / "skiff")
    try:
        run(HELM, "install", RELEASE, chart, "-n", NAMESPACE, "-f", str(work / "values.yaml"), env=env, timeout=300)
        yield {"env": env, "pki": pki, "gateway": cluster[0].layout.pod_gateway}
    finally:
        print(run(SKIFF, "get", "pods,events", "-n", NAMESPACE, env=env, check=False).stdout[-6000:])
        for component in ("etcd", *COMPONENTS):
            logs = run(
                SKIFF, "logs", "-n", NAMESPACE, f"deploy/{RELEASE}-{component}", "--tail=15", env=env, check=False
            )
            print(f"--- {component}\n{logs.stdout[-3000:]}{logs.stderr[-500:]}")
        run(HELM, "uninstall", RELEASE, "-n", NAMESPACE, env=env, check=False, timeout=300)
        run(SKIFF, "delete", "namespace", NAMESPACE, "--wait=false", env=env, check=False)


def pods(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The release's pods by component."""
    items = json.loads(run(SKIFF, "get", "pods", "-n", NAMESPACE, "-o", "json", env=env).stdout)["items"]
    return {p["metadata"]["labels"]["app.kubernetes.io/component"]: p for p in items}


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return pod["status"].get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in conditions
    )


def helm_secrets() -> dict[str, dict[str, str]]:
    """scripts/helm-secrets.py's table: component -> the files of its Secret (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("helm_secrets", REPO / "scripts" / "helm-secrets.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.SECRETS)


def https_get(address: str, port: int, path: str, pki: Path) -> tuple[int, str]:
    """GET over mutual TLS as the inner cluster's admin, checking the apiserver's certificate against the
    name the chart's Service gives it (the pod address is not in it)."""
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    with (
        socket.create_connection((address, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=f"{RELEASE}-apiserver") as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {RELEASE}-apiserver\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def test_helm_installs_a_second_control_plane_that_answers(release: dict[str, Any]) -> None:
    env = release["env"]
    status = json.loads(run(HELM, "status", RELEASE, "-n", NAMESPACE, "-o", "json", env=env).stdout)
    assert status["info"]["status"] == "deployed"

    def all_ready() -> dict[str, dict[str, Any]] | None:
        found = pods(env)
        return found if set(found) == {"etcd", *COMPONENTS} and all(map(ready, found.values())) else None

    running = wait("the second control plane's pods Running and Ready", all_ready, timeout=420)
    apiserver_ip = running["apiserver"]["status"]["podIP"]
    # /readyz on the metrics port, as the chart's probes ask it, from the host over the Skiff pod bridge
    with urllib.request.urlopen(f"http://{apiserver_ip}:9101/readyz?verbose", timeout=10) as response:
        assert response.status == 200
        assert {"[+]etcd ok", "[+]apiserver-started ok"} <= set(response.read().decode().splitlines())
    # and its Kubernetes REST API: ready (etcd reached through the etcd Service) and serving objects
    assert https_get(apiserver_ip, 6444, "/readyz", release["pki"]) == (200, "ok")
    code, body = https_get(apiserver_ip, 6444, "/api/v1/namespaces", release["pki"])
    assert code == 200 and json.loads(body)["kind"] == "NamespaceList", body[:500]
    # from outside, as a joining node would: the NodePort on the node's address (the pod bridge's gateway)
    service = json.loads(
        run(SKIFF, "get", "service", f"{RELEASE}-apiserver", "-n", NAMESPACE, "-o", "json", env=env).stdout
    )
    node_port = next(p["nodePort"] for p in service["spec"]["ports"] if p["name"] == "https")
    through = lambda: https_get(release["gateway"], node_port, "/readyz", release["pki"]) == (200, "ok")  # noqa: E731
    wait(f"/readyz through NodePort {release['gateway']}:{node_port}", through, timeout=60)
    # each pod holds its own certificate and key and the CA's certificate, and nothing else
    for component in ("etcd", *COMPONENTS):
        listed = run(SKIFF, "exec", "-n", NAMESPACE, f"deploy/{RELEASE}-{component}", "--", "ls", "/pki", env=env)
        assert set(listed.stdout.split()) == set(helm_secrets()[component]), component
    # the scheduler and controllers are Ready only once their informers synced against that apiserver
    for component in ("scheduler", "controllers", "dns"):
        assert ready(running[component]), component


def test_helm_uninstall_removes_it(release: dict[str, Any]) -> None:
    env = release["env"]
    run(HELM, "uninstall", RELEASE, "-n", NAMESPACE, "--wait", env=env, timeout=300)
    assert RELEASE not in run(HELM, "list", "-n", NAMESPACE, "-a", "-q", env=env).stdout.split()
    wait("the release's pods gone", lambda: not pods(env), timeout=180)
    left = run(SKIFF, "get", "deployments,services,serviceaccounts", "-n", NAMESPACE, "-o", "name", env=env).stdout
    assert not [line for line in left.split() if RELEASE in line and "serviceaccount/default" not in line], left
