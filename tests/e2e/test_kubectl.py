"""Real kubectl (1.27 and 1.33) against a real local cluster over the REST port: the `skiff` context merged
into a temporary KUBECONFIG by the code `skiff up` runs, then apply, get (Table columns), logs (proxied
by the apiserver to the kubelet), describe, label, get -w, delete, as a Kubernetes user would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from skiff_cli import kubeconfig
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

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
    # kubectl aligns the values to its longest label ("Service Account:" since pods run as one)
    assert re.search(rf"^Node:\s+{cluster.layout.node_name}/", described, re.M), described
    assert re.search(r"^\s+State:\s+Running$", described, re.M), described
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


def kubectl_on_terminal(kube: Path, version: str, *args: str, prompt: bytes, keys: bytes) -> tuple[int | None, bytes]:
    """kubectl on a 40x120 pseudo-terminal; once `prompt` shows, type `keys`. (exit status or None when it
    had to be killed after 60 s, everything the terminal showed)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "KUBECONFIG": str(kube), "HOME": str(kube.parent)}
    binary = str(KUBECTL_DIR / f"kubectl.{version}")
    proc = subprocess.Popen([binary, *args], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    shown, typed = b"", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.2)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's last holder exited
                break
            shown += chunk
            if not typed and prompt in shown:
                os.write(master, keys)
                typed = True
    finally:
        os.close(master)
        try:
            proc.wait(timeout=max(0.0, min(5.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None, shown
    return proc.returncode, shown


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

    # exec -it: a terminal (SPDY's resize stream, WebSocket's channel 4) of the caller's size
    status, shown = kubectl_on_terminal(
        kube, version, "exec", "-it", name, "--", "sh", prompt=b"# ", keys=b"stty size; exit 5\n"
    )
    assert status == 5 and b"40 120" in shown, shown

    # kubectl cp is tar over exec's stdin: 300 KB through the SPDY / WebSocket streams and back
    payload = kube.parent / f"payload-{version}.bin"
    payload.write_bytes(os.urandom(300 * 1024))
    kubectl(kube, version, "cp", str(payload), f"{name}:/tmp/payload.bin")
    copied = kubectl(kube, version, "exec", name, "--", "md5sum", "/tmp/payload.bin").split()[0]
    import hashlib

    assert copied == hashlib.md5(payload.read_bytes()).hexdigest()

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
    if version == "1.33":  # the Python client's port-forward: the WebSocket channel protocol
        from kubernetes import client, config
        from kubernetes.stream import portforward

        api = config.new_client_from_config(config_file=str(kube))
        try:
            core = client.CoreV1Api(api)
            pf = portforward(core.connect_get_namespaced_pod_portforward, name, "default", ports="8080")
            sock = pf.socket(8080)
            sock.setblocking(True)
            sock.settimeout(30)
            sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            sock.close()
            assert received.startswith(b"HTTP/1.") and received.endswith(b"hello-pf\n"), received
        finally:
            api.close()
    kubectl(kube, version, "delete", "pod", name, "--wait=false", "--grace-period=1")


def test_get_watch_across_an_apiserver_restart(kube: Path, cluster: LocalCluster) -> None:
    """`kubectl get -w` holds one watch and has no retry (client-go's UntilWithoutRetry), so against
    Kubernetes it ends when its apiserver restarts: here too, cleanly and with status 0 (the stream ends
    with its terminating chunk, not a cut connection). What resumes is a client that re-watches from the
    last resourceVersion it saw, as client-go's reflector and the Python client's watch do: after the
    restart the watch cache begins at the current revision, so an older version is 410 Gone, and a
    relist plus a watch from the list's version sees the change made while the server was down."""
    import signal

    from kubernetes import client, config, watch
    from kubernetes.client.exceptions import ApiException
    from skiff_cli.cluster import processes

    kubectl(kube, "1.33", "create", "configmap", "watched")
    watchers = {v: _start(kube, v, "get", "configmap", "watched", "-w") for v in ("1.27", "1.33")}
    api = config.new_client_from_config(config_file=str(kube))
    core = client.CoreV1Api(api)
    try:
        for proc in watchers.values():
            assert proc.stdout is not None and proc.stdout.readline().split() == ["NAME", "DATA", "AGE"]
            assert proc.stdout.readline().split()[0] == "watched"
        seen = core.list_namespaced_config_map("default").metadata.resource_version
        before = processes.running_pid("apiserver", cluster.layout.pid_dir)
        assert before is not None
        os.kill(before, signal.SIGTERM)
        for version, proc in watchers.items():
            assert proc.wait(timeout=60) == 0, (version, proc.stderr.read() if proc.stderr else "")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            now = processes.running_pid("apiserver", cluster.layout.pid_dir)
            ready = now not in (None, before) and "ok" in kubectl(kube, "1.33", "get", "--raw", "/readyz", check=False)
            if ready:
                break
            time.sleep(0.5)
        kubectl(kube, "1.33", "label", "configmap", "watched", "after=restart")

        labelled: dict[str, str] = {}
        try:
            for event in watch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version=seen, timeout_seconds=5
            ):
                labelled = event["object"].metadata.labels or {}
        except ApiException as exc:
            assert exc.status == 410  # too old for the restarted cache: relist, then watch from there
            listed = core.list_namespaced_config_map("default", field_selector="metadata.name=watched")
            labelled = listed.items[0].metadata.labels or {}
        assert labelled.get("after") == "restart"
        again = _start(kube, "1.27", "get", "configmap", "watched", "-w", "--show-labels")
        try:
            assert again.stdout is not None and again.stdout.readline().split()[-1] == "LABELS"
            assert again.stdout.readline().split()[-1] == "after=restart"
        finally:
            again.kill()
            again.wait()
    finally:
        for proc in watchers.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        api.close()
    kubectl(kube, "1.33", "delete", "configmap", "watched")


WORKLOADS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: busybox, command: ["sleep", "3600"]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: busybox, command: ["sleep", "3600"]}]
"""


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_rollout_scale_taint_drain(kube: Path, cluster: LocalCluster, version: str) -> None:
    """The workload verbs against a running cluster: rollout status / set image / undo / history, scale,
    taint and untaint, and drain, which refuses DaemonSet pods until --ignore-daemonsets and evicts the
    rest (pods/eviction), as against Kubernetes."""
    node = cluster.layout.node_name
    applied = kubectl(kube, version, "apply", "--server-side", "-f", "-", input=WORKLOADS)
    assert applied.split() == [
        "deployment.apps/web",
        "serverside-applied",
        "daemonset.apps/agent",
        "serverside-applied",
    ]
    try:
        rolled = kubectl(kube, version, "rollout", "status", "deployment/web", "--timeout=120s")
        assert rolled.strip().endswith('deployment "web" successfully rolled out')
        # the controllers' writes (gRPC) kept the applier's ownership; applying again changes nothing
        shown = kubectl(kube, version, "get", "deploy", "web", "-o", "json", "--show-managed-fields")
        owners = {(e["manager"], e["operation"]) for e in json.loads(shown)["metadata"]["managedFields"]}
        assert ("kubectl", "Apply") in owners, owners
        again = kubectl(kube, version, "apply", "--server-side", "-f", "-", input=WORKLOADS)
        assert again.split()[:2] == ["deployment.apps/web", "serverside-applied"]
        updated = kubectl(kube, version, "set", "image", "deployment/web", "c=busybox:1.36")
        assert updated.strip() == "deployment.apps/web image updated"
        kubectl(kube, version, "rollout", "status", "deployment/web", "--timeout=120s")
        history = kubectl(kube, version, "rollout", "history", "deployment/web").split()
        assert history[:3] == ["deployment.apps/web", "REVISION", "CHANGE-CAUSE"] and "2" in history
        assert kubectl(kube, version, "rollout", "undo", "deployment/web").strip() == "deployment.apps/web rolled back"
        kubectl(kube, version, "rollout", "status", "deployment/web", "--timeout=120s")
        image = kubectl(
            kube, version, "get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
        )
        assert image == "busybox"
        scaled = kubectl(kube, version, "scale", "deployment/web", "--replicas=1")
        assert scaled.strip() == "deployment.apps/web scaled"
        kubectl(kube, version, "rollout", "status", "deployment/web", "--timeout=120s")

        tainted = kubectl(kube, version, "taint", "nodes", node, "dedicated=infra:NoSchedule")
        assert tainted.strip() == f"node/{node} tainted"
        taints = kubectl(kube, version, "get", "node", node, "-o", "jsonpath={.spec.taints}")
        assert json.loads(taints) == [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]
        untainted = kubectl(kube, version, "taint", "nodes", node, "dedicated=infra:NoSchedule-")
        assert untainted.strip() == f"node/{node} untainted"

        deadline = time.monotonic() + 120
        while kubectl(kube, version, "get", "ds", "agent", "-o", "jsonpath={.status.numberReady}") != "1":
            assert time.monotonic() < deadline, "the DaemonSet pod never became ready"
            time.sleep(0.5)
        refused = kubectl(kube, version, "drain", node, "--grace-period=1", "--timeout=60s", check=False)
        assert "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/agent-" in refused
        # --force: bare pods other tests of this session may still be ending would otherwise block it
        drained = kubectl(
            kube, version, "drain", node, "--ignore-daemonsets", "--force", "--grace-period=1", "--timeout=120s"
        )
        assert "evicting pod default/web-" in drained or "pod/web-" in drained, drained
        assert drained.strip().endswith(f"node/{node} drained")
        assert kubectl(kube, version, "get", "node", node, "-o", "jsonpath={.spec.unschedulable}") == "true"
        pods = kubectl(kube, version, "get", "pods", "-l", "app=agent", "-o", "name")
        assert pods.startswith("pod/agent-")  # DaemonSet pods stay
    finally:
        kubectl(kube, version, "uncordon", node, check=False)
        kubectl(kube, version, "delete", "-f", "-", "--wait=false", input=WORKLOADS, check=False)
