"""The walking skeleton, end to end: `skiff apply` of a pod to a running, isolated container and back.

Everything is real: etcd, the five services as processes, Linux namespaces, cgroups, overlayfs and the
CNI bridge plugin. The test goes through the `skiff` command as a user would.
"""

from __future__ import annotations

import re
import ssl
import urllib.request
from pathlib import Path

import pytest
from skiff_cli.cluster.cleanup import cgroup_dirs, mounts_below
from skiff_cli.cluster.local import LocalCluster, etcd_healthy

pytestmark = [pytest.mark.e2e, pytest.mark.root]

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: hello
  labels: {app: hello}
spec:
  containers:
    - name: hello
      image: busybox
      command: ["sh", "-c", "echo hello; sleep 3600"]
      resources:
        limits: {cpu: 500m, memory: 64Mi}
"""


def pod_processes(cluster: LocalCluster, uid: str) -> list[int]:
    """Every process in the pod's cgroups (the kubelet names them pod<uid>), not other tests' pods."""
    pids: set[int] = set()
    for top in cgroup_dirs(cluster.layout.cgroup_root):
        for procs in top.rglob("cgroup.procs"):
            if f"pod{uid}" in str(procs):
                pids.update(int(p) for p in procs.read_text().split())
    return sorted(pids)


def test_node_is_ready(skiff, cluster: LocalCluster) -> None:
    out = skiff("get", "nodes").stdout
    assert re.search(rf"^{cluster.layout.node_name}\s+Ready\b", out, re.M), out


def test_etcd_answers_only_the_apiserver_certificate(cluster: LocalCluster) -> None:
    assert etcd_healthy(cluster.layout, cluster.etcd_tls["apiserver-client"])
    with pytest.raises(OSError):  # plain HTTP: etcd serves TLS only
        urllib.request.urlopen(f"http://{cluster.layout.etcd_endpoint}/health", timeout=5)
    admin = cluster.tls["admin"]  # a valid cluster certificate, but not from etcd's CA
    context = ssl.create_default_context(cafile=cluster.etcd_tls["server"].ca_file)
    context.load_cert_chain(admin.cert_file, admin.key_file)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"https://{cluster.layout.etcd_endpoint}/health", timeout=5, context=context)


def test_pod_runs_isolated_and_is_cleaned_up(skiff, cluster: LocalCluster, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD)
    assert skiff("apply", "-f", str(manifest)).stdout.strip() == "pod/hello created"

    pod = skiff.wait_for(
        "the pod to be Running",
        lambda: (p := skiff.get_json("pod", "hello"))["status"].get("phase") == "Running" and p,
    )
    assert pod["spec"]["nodeName"] == cluster.layout.node_name
    # The image came through the local registry, mirrored as docker.io (no internet, no import).
    registry_log = (cluster.layout.log_dir / "registry.log").read_text()
    assert "/v2/library/busybox/manifests/latest" in registry_log
    assert pod["status"]["podIP"], pod["status"]
    assert pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    table = skiff("get", "pods", "-o", "wide").stdout
    assert re.search(r"^hello\s+1/1\s+Running\s+0\s+\S+\s+" + re.escape(pod["status"]["podIP"]), table, re.M), table

    logs = skiff.wait_for("the pod's output", lambda: skiff("logs", "hello").stdout)
    assert logs.splitlines()[0] == "hello"

    # PID 1 is the pod's shell. busybox's sh replaces itself with the last command of `-c` (as it does
    # under Docker or Kubernetes), so PID 1 shows as either `sh -c ...` or `sleep 3600`; and nothing of
    # the host is visible: only PID 1 and ps itself.
    ps = skiff("exec", "hello", "--", "ps", "-o", "pid,args").stdout
    rows = [line.split(None, 1) for line in ps.splitlines()[1:] if line.strip()]
    assert rows[0][0] == "1" and rows[0][1].startswith(("sh -c echo hello", "sleep 3600")), ps
    assert [args for _, args in rows[1:]] == ["ps -o pid,args"], ps
    assert skiff("exec", "hello", "--", "hostname").stdout.strip() == "hello"

    # kubectl exec's -i and -t: stdin reaches the command and ends with ours; a terminal is a terminal
    # of our size; a non-zero exit is reported and becomes skiff's own status.
    piped = skiff("exec", "-i", "hello", "--", "sh", "-c", "cat; exit 3", input="from stdin\n", check=False)
    assert (piped.returncode, piped.stdout) == (3, "from stdin\n"), piped
    assert "command terminated with exit code 3" in piped.stderr
    status, shown = skiff.on_terminal("exec", "-it", "hello", "--", "sh", prompt=b"# ", keys=b"stty size; exit 5\n")
    assert status == 5 and b"40 120" in shown, shown

    # The container is really limited: its cgroup carries the pod's memory limit.
    assert pod_processes(cluster, pod["metadata"]["uid"]), "no process in the cluster's cgroups while the pod runs"
    assert any(
        ((d / "memory.limit_in_bytes").exists() and (d / "memory.limit_in_bytes").read_text().strip() == str(64 << 20))
        or ((d / "memory.max").exists() and (d / "memory.max").read_text().strip() == str(64 << 20))
        for top in cgroup_dirs(cluster.layout.cgroup_root)
        for d in [top, *top.rglob("*")]
        if d.is_dir()
    ), "no cgroup with the 64Mi memory limit"
    assert any("overlay" in line or "rootfs" in line for line in mounts_below(cluster.layout.state_dir))

    assert 'pod "hello" deleted' in skiff("delete", "pod", "hello").stdout
    assert "hello" not in skiff("get", "pods").stdout
    assert pod_processes(cluster, pod["metadata"]["uid"]) == [], "container processes left after delete"
    leftover = [m for m in mounts_below(cluster.layout.state_dir) if "rootfs" in m or "netns" in m]
    assert leftover == [], leftover


def test_bad_manifest_gets_a_clear_error(skiff, tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        POD.replace("name: hello\n      image", "name: hello\n      imagePullPolcy: Always\n      image")
    )
    result = skiff("apply", "-f", str(manifest), check=False)
    assert result.returncode == 1
    # the server's strict field validation, worded as kubectl prints it
    assert 'unknown field "spec.containers[0].imagePullPolcy"' in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
