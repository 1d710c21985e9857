"""Real kubectl (1.27 and 1.33) against a real local cluster over the REST port: the `skiff` context merged
into a temporary KUBECONFIG by the code `skiff up` runs, then apply, get (Table columns), logs (proxied
by the apiserver to the kubelet), describe, label, get -w, delete, as a Kubernetes user would."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from skiff_cli import kubeconfig
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root]

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: talk}}
spec:
  containers:
    - name: talk
      image: busybox
      command: ["sh", "-c", "echo hello from {name}; echo second line; sleep 3600"]
"""


@pytest.fixture(scope="module")
def kube(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.merge(cluster.layout.rest_url, cluster.tls["admin"], path)
    return path


def kubectl(kube: Path, version: str, *args: str, input: str | None = None, check: bool = True) -> str:
    binary = KUBECTL_DIR / f"kubectl.{version}"
    if not binary.exists():
        pytest.skip(f"kubectl {version} is not installed")
    env = {**os.environ, "KUBECONFIG": str(kube), "HOME": str(kube.parent)}
    r = subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, input=input, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr}")
    return r.stdout if check else r.stdout + r.stderr


def wait_running(kube: Path, version: str, name: str) -> None:
    deadline = time.monotonic() + 120
    phase = ""
    while time.monotonic() < deadline:
        phase = kubectl(kube, version, "get", "pod", name, "-o", "jsonpath={.status.phase}")
        if phase == "Running":
            return
        time.sleep(0.5)
    raise AssertionError(f"pod {name} is {phase!r}, not Running")


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_kubectl_drives_the_cluster(kube: Path, cluster: LocalCluster, version: str) -> None:
    name = f"talk-{version.replace('.', '')}"
    nodes = kubectl(kube, version, "get", "nodes").splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes[1].split()[:3] == [cluster.layout.node_name, "Ready", "<none>"]

    assert kubectl(kube, version, "apply", "-f", "-", input=POD.format(name=name)).strip() == f"pod/{name} created"
    wait_running(kube, version, name)
    row = kubectl(kube, version, "get", "pod", name, "-o", "wide").splitlines()[1].split()
    assert row[:3] == [name, "1/1", "Running"] and row[6] == cluster.layout.node_name

    deadline = time.monotonic() + 30
    logs = ""
    while "second line" not in logs and time.monotonic() < deadline:
        logs = kubectl(kube, version, "logs", name)
        time.sleep(0.3)
    assert logs == f"hello from {name}\nsecond line\n"
    assert kubectl(kube, version, "logs", name, "--tail=1") == "second line\n"
    follow = subprocess.Popen(
        [str(KUBECTL_DIR / f"kubectl.{version}"), "logs", "-f", name],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "KUBECONFIG": str(kube), "HOME": str(kube.parent)},
    )  # fmt: skip
    try:
        assert follow.stdout is not None
        assert [follow.stdout.readline(), follow.stdout.readline()] == [f"hello from {name}\n", "second line\n"]
        assert follow.poll() is None  # still following: the container runs on
    finally:
        follow.kill()
        follow.wait()
    assert (
        kubectl(kube, version, "logs", name, "-c", "nope", check=False)
        .strip()
        .endswith(f"container nope is not valid for pod {name}")
    )

    described = kubectl(kube, version, "describe", "pod", name)
    assert f"Node:         {cluster.layout.node_name}/" in described and "State:          Running" in described
    pod = json.loads(kubectl(kube, version, "get", "pod", name, "-o", "json"))
    assert pod["status"]["podIP"] and pod["status"]["containerStatuses"][0]["ready"] is True

    assert kubectl(kube, version, "label", "pod", name, "checked=yes").strip() == f"pod/{name} labeled"
    assert kubectl(kube, version, "delete", "pod", name, "--wait=false").strip() == f'pod "{name}" deleted'
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        out = kubectl(kube, version, "get", "pod", name, check=False)
        if "NotFound" in out:
            break
        time.sleep(0.5)
    assert f'pods "{name}" not found' in out


def test_exec_over_websocket_and_the_python_client(kube: Path) -> None:
    """kubectl 1.33 (WebSocket, v5.channel.k8s.io) and the Python client's stream module (v4) run commands
    in a container through the apiserver; the exit code comes back as kubectl's own exit status."""
    from kubernetes import client, config
    from kubernetes.stream import stream

    name = "exec-target"
    kubectl(kube, "1.33", "apply", "-f", "-", input=POD.format(name=name))
    wait_running(kube, "1.33", name)
    assert kubectl(kube, "1.33", "exec", name, "--", "echo", "hi there") == "hi there\n"
    assert kubectl(kube, "1.33", "exec", "-i", name, "--", "cat", input="piped\n") == "piped\n"
    env = {**os.environ, "KUBECONFIG": str(kube), "HOME": str(kube.parent)}
    failed = subprocess.run(
        [str(KUBECTL_DIR / "kubectl.1.33"), "exec", name, "--", "sh", "-c", "echo out; echo err >&2; exit 3"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert (failed.returncode, failed.stdout, failed.stderr) == (
        3,
        "out\n",
        "err\ncommand terminated with exit code 3\n",
    )

    api = config.new_client_from_config(config_file=str(kube))
    try:
        core = client.CoreV1Api(api)
        out = stream(
            core.connect_get_namespaced_pod_exec, name, "default", command=["sh", "-c", "echo from python"],
            stderr=True, stdin=False, stdout=True, tty=False,
        )  # fmt: skip
        assert out == "from python\n"
        assert core.read_namespaced_pod_log(name, "default", tail_lines=1) == "second line\n"
    finally:
        api.close()
    kubectl(kube, "1.33", "delete", "pod", name, "--wait=false")


SERVER_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
    - name: web
      image: busybox
      command: ["sh", "-c", "{script}"]
"""
SERVER_SCRIPT = (
    "mkdir -p /www && echo hello-pf > /www/index.html && httpd -p 8080 -h /www; while true; do echo tick; sleep 1; done"
)


def _start(kube: Path, version: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KUBECONFIG": str(kube), "HOME": str(kube.parent)}
    return subprocess.Popen(
        [str(KUBECTL_DIR / f"kubectl.{version}"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_exec_attach_port_forward(kube: Path, version: str) -> None:
    """exec (1.27: SPDY/3.1; 1.33: WebSocket v5), attach (the container's output from now on) and
    port-forward (1.27: SPDY; 1.33: SPDY tunnelled in a WebSocket) through the apiserver to the kubelet."""
    import urllib.request

    name = f"streams-{version.replace('.', '')}"
    kubectl(kube, version, "apply", "-f", "-", input=SERVER_POD.format(name=name, script=SERVER_SCRIPT))
    wait_running(kube, version, name)
    assert kubectl(kube, version, "exec", name, "--", "echo", "hi there") == "hi there\n"
    assert kubectl(kube, version, "exec", "-i", name, "--", "cat", input="piped\n") == "piped\n"
    env = {**os.environ, "KUBECONFIG": str(kube), "HOME": str(kube.parent)}
    failed = subprocess.run(
        [str(KUBECTL_DIR / f"kubectl.{version}"), "exec", name, "--", "sh", "-c", "echo out; echo err >&2; exit 3"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert (failed.returncode, failed.stdout, failed.stderr) == (
        3,
        "out\n",
        "err\ncommand terminated with exit code 3\n",
    )

    attach = _start(kube, version, "attach", name)
    try:
        assert attach.stdout is not None
        assert attach.stdout.readline() == "tick\n"
    finally:
        attach.kill()
        attach.wait()

    forward = _start(kube, version, "port-forward", f"pod/{name}", ":8080")
    try:
        assert forward.stdout is not None
        line = forward.stdout.readline()  # "Forwarding from 127.0.0.1:NNNNN -> 8080"
        assert line.startswith("Forwarding from 127.0.0.1:") and line.rstrip().endswith("-> 8080"), line
        local = int(line.split("127.0.0.1:")[1].split()[0])
        for _ in range(2):  # two connections: two stream pairs on one SPDY session
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/index.html", timeout=30) as resp:
                assert resp.read() == b"hello-pf\n"
    finally:
        forward.kill()
        forward.wait()
    kubectl(kube, version, "delete", "pod", name, "--wait=false")
