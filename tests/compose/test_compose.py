"""`docker-compose up` for real: the base image from Debian packages, every image built by `docker build`
as a user would, the whole cluster (etcd, control plane, two nodes, registry, DNS, Prometheus,
collector) started by compose, and a pod applied with the CLI through the config compose writes.

Runs only with `make test-compose` (CI runs it too; it takes minutes). Docker runs as its own daemon
for the test, started with `--bridge=none --iptables=false`: Docker's own networks use address ranges
this project must not touch, and compose here uses the host's network only. Everything the cluster
leaves in the host (pods' processes, mounts, cgroups, bridges, nftables tables) is removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_daemon import private_dockerd, run, wait
from skiff_cli.cluster.cleanup import sweep
from skiff_cli.cluster.layout import ClusterLayout

pytestmark = [pytest.mark.compose, pytest.mark.root]

REPO = Path(__file__).resolve().parents[2]
SKIFF = str(Path(sys.executable).parent / "skiff")
# Docker's images are kept between runs (building the base takes minutes); its daemon is not.
PROJECT = "skiffcompose"
NODES = {"a": "skiffc-a", "b": "skiffc-b"}
POD = """
apiVersion: v1
kind: Pod
metadata:
  name: composed
spec:
  containers:
    - name: c
      image: busybox
      command: ["sh", "-c", "echo hello from compose; sleep 3600"]
"""


@pytest.fixture(scope="module")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("compose tests need root")
    run_dir = tmp_path_factory.mktemp("docker")
    with private_dockerd(run_dir, ("docker-compose", "mmdebstrap"), {"COMPOSE_PROJECT_NAME": PROJECT}) as env:
        yield env


@pytest.fixture(scope="module")
def compose(docker: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = tmp_path_factory.mktemp("compose-state")
    env = {**docker, "SKIFF_STATE": str(state)}
    run(str(REPO / "scripts" / "images" / "build-base-image.sh"), env=env)
    compose_file = ["docker-compose", "-f", str(REPO / "docker-compose.yml")]
    # The nodes mount pods' volumes below the state folder and need those mounts to propagate (rshared);
    # on a host whose / is not a shared mount (this one), the folder is made a shared mount of its own.
    run("mount", "--bind", str(state), str(state), env=env)
    run("mount", "--make-rshared", str(state), env=env)
    try:
        run(*compose_file, "build", env=env)
        run(*compose_file, "up", "-d", env=env, timeout=600)
        yield {
            **env,
            "SKIFFCONFIG": str(state / "pki" / "client.yaml"),
            "KUBECONFIG": str(state / "pki" / "kubeconfig"),
        }
    finally:
        logs = run(*compose_file, "logs", "--no-color", "--tail=30", env=env, check=False).stdout
        print(logs[-20000:])
        run(*compose_file, "down", "-v", "--timeout=20", env=env, check=False, timeout=300)
        for node, bridge in NODES.items():
            layout = ClusterLayout(state_dir=state / f"node-{node}", bridge=bridge, cgroup_root=f"skiff-compose-{node}")
            for line in sweep(layout):
                print(f"[compose clean-up] {line}")
        run("umount", str(state), env=env, check=False)
        shutil.rmtree(state, ignore_errors=True)


def test_compose_runs_a_cluster_with_two_nodes_and_a_pod(compose: dict[str, str], tmp_path: Path) -> None:
    def ready_nodes() -> list[str]:
        out = run(SKIFF, "get", "nodes", "-o", "json", env=compose, check=False)
        assert out.returncode == 0, out.stderr
        items = json.loads(out.stdout).get("items", [])
        ready = [
            n["metadata"]["name"]
            for n in items
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
        ]
        return sorted(ready) if len(ready) == 2 else []

    assert wait("both compose nodes Ready", ready_nodes) == ["node-a", "node-b"]
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD)
    run(SKIFF, "apply", "-f", str(manifest), env=compose)

    def running() -> bool:
        pod = json.loads(run(SKIFF, "get", "pod", "composed", "-o", "json", env=compose).stdout)
        return pod["status"].get("phase") == "Running"

    wait("the pod running", running)
    assert "hello from compose" in wait("its log", lambda: run(SKIFF, "logs", "composed", env=compose).stdout)
    run(SKIFF, "delete", "pod", "composed", env=compose, timeout=120)


def test_every_service_is_healthy_and_prometheus_scrapes_them(compose: dict[str, str]) -> None:
    def unhealthy() -> list[str] | bool:
        ids = run(
            "docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}", env=compose
        ).stdout.split()
        states = json.loads(run("docker", "inspect", *ids, env=compose).stdout)
        bad = [
            s["Name"]
            for s in states
            if s["State"]["Status"] != "running" or s["State"].get("Health", {}).get("Status", "healthy") != "healthy"
        ]
        return bad or True

    assert wait("every long-running service healthy", lambda: unhealthy() is True), unhealthy()

    def targets_up() -> bool:
        with urllib.request.urlopen("http://127.0.0.1:9090/api/v1/targets", timeout=10) as response:
            targets = json.loads(response.read())["data"]["activeTargets"]
        return len(targets) == 12 and all(t["health"] == "up" for t in targets)

    wait("Prometheus scraping all twelve targets", targets_up)
