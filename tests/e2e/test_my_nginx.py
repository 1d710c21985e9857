"""Services by name, end to end on a real `skiff up` cluster: the Kubernetes docs' "Connecting Applications
with Services" (run-my-nginx.yaml and nginx-svc.yaml, unchanged) reached from a busybox pod by name.

The whole path is real: the kubelet writes the pod's resolv.conf (ClusterFirst: nameserver 10.96.0.10,
search `default.svc.cluster.local ...`, ndots:5), skiff-proxy carries UDP/TCP 53 for the kube-dns ClusterIP
to skiff-dns on the pod bridge's gateway, skiff-dns answers from its informer caches, and skiff-proxy
carries the HTTP connection for my-nginx's ClusterIP to a pod. `image: nginx` is a stand-in pushed to the
cluster's local registry (nginx_standin.py). Also: NodePort on the node's address, a headless Service,
`https://kubernetes.default.svc` (the API on the bridge's gateway), a rolling update without a failed
request, proxy and DNS killed (-9) and restarted by `skiff up`'s supervisor, and bad Services refused with
field errors. ClusterIP, readiness, hairpin and REJECT are in test_services.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nginx_standin
import pytest
from skiff_cli.cluster import processes

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]
SKIFF = str(Path(sys.executable).parent / "skiff")

# https://kubernetes.io/docs/tutorials/services/connect-applications-service/ : run-my-nginx.yaml (unchanged)
RUN_MY_NGINX = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-nginx
spec:
  selector:
    matchLabels:
      run: my-nginx
  replicas: 2
  template:
    metadata:
      labels:
        run: my-nginx
    spec:
      containers:
      - name: my-nginx
        image: nginx
        ports:
        - containerPort: 80
"""

# ... and nginx-svc.yaml (unchanged)
NGINX_SVC = """\
apiVersion: v1
kind: Service
metadata:
  name: my-nginx
  labels:
    run: my-nginx
spec:
  ports:
  - port: 80
    protocol: TCP
  selector:
    run: my-nginx
"""

MORE_SERVICES = """\
apiVersion: v1
kind: Service
metadata:
  name: my-nginx-nodeport
spec:
  type: NodePort
  selector:
    run: my-nginx
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: my-nginx-headless
spec:
  clusterIP: None
  selector:
    run: my-nginx
  ports:
  - port: 80
"""

CLIENT = """\
apiVersion: v1
kind: Pod
metadata:
  name: curl
spec:
  containers:
  - name: curl
    image: busybox
    command: ["sleep", "3600"]
"""


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SKIFF, *args], capture_output=True, text=True, timeout=timeout, check=False)


def _ok(*args: str) -> str:
    out = _run(*args)
    assert out.returncode == 0, f"skiff {' '.join(args)}: {out.stdout}{out.stderr}"
    return out.stdout


def _items(*args: str) -> list[dict]:  # type: ignore[type-arg]
    data = json.loads(_ok("get", *args, "-o", "json"))
    return list(data["items"] if isinstance(data, dict) else data)


def _wait(what: str, check, timeout: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def ready_pods() -> dict[str, str]:
    """name -> IP of my-nginx's pods that are Ready and not terminating."""
    found = {}
    for pod in _items("pods", "-l", "run=my-nginx"):
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        if conditions.get("Ready") == "True" and not pod["metadata"].get("deletionTimestamp"):
            found[pod["metadata"]["name"]] = pod["status"]["podIP"]
    return found


def in_pod(script: str, pod: str = "curl", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return _run("exec", pod, "--", "sh", "-c", script, timeout=timeout)


def wget(url: str, n: int = 1, flags: str = "") -> list[str]:
    """`n` requests from the client pod; each answer's body (a pod's hostname) or FAILED."""
    # busybox-static's wget crashes with its own -T (timeout) option, so the shell's timeout bounds it.
    out = in_pod(f"for i in $(seq {n}); do timeout 10 wget {flags} -qO- {url} || echo FAILED; done")
    return out.stdout.split()


def nslookup(name: str) -> list[str]:
    """The addresses busybox's nslookup prints for `name` (after the server's own lines); [] when none."""
    out = in_pod(f"nslookup {name}").stdout
    answer = out.split("Name:", 1)[1] if "Name:" in out else ""
    return sorted(line.split()[-1] for line in answer.splitlines() if line.startswith("Address"))


def nginx_serves(bodies: list[str]) -> bool:
    pods = set(ready_pods())
    return bool(bodies) and set(bodies) <= pods


@pytest.fixture(scope="module")
def my_nginx(cluster, tmp_path_factory) -> Iterator[None]:  # type: ignore[no-untyped-def]
    nginx_standin.push(cluster.layout)
    # pods of other modules' run=my-nginx Services may still be terminating: they must not answer here
    _wait("no other run=my-nginx pods", lambda: not _items("pods", "-l", "run=my-nginx") or None)
    folder: Path = tmp_path_factory.mktemp("my-nginx")
    for name, text in {
        "run-my-nginx.yaml": RUN_MY_NGINX,
        "nginx-svc.yaml": NGINX_SVC,
        "more.yaml": MORE_SERVICES,
    }.items():
        (folder / name).write_text(text)
        _ok("apply", "-f", str(folder / name))
    (folder / "curl.yaml").write_text(CLIENT)
    _ok("apply", "-f", str(folder / "curl.yaml"))
    _wait("two my-nginx pods ready", lambda: len(ready_pods()) == 2)
    _wait(
        "the client pod running",
        lambda: json.loads(_ok("get", "pod", "curl", "-o", "json"))["status"].get("phase") == "Running",
    )
    yield
    _run("delete", "pod", "curl")
    _run("delete", "deployment", "my-nginx")
    for svc in ("my-nginx", "my-nginx-nodeport", "my-nginx-headless"):
        _run("delete", "service", svc)


def test_the_kubelet_points_pods_at_cluster_dns(my_nginx) -> None:  # type: ignore[no-untyped-def]
    resolv = in_pod("cat /etc/resolv.conf").stdout
    assert "nameserver 10.96.0.10" in resolv.split("\n"), resolv
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv, resolv
    assert "ndots:5" in resolv, resolv


@pytest.mark.parametrize("url", ["http://my-nginx", "http://my-nginx.default.svc.cluster.local:80"])
def test_wget_my_nginx_by_name(my_nginx, url: str) -> None:  # type: ignore[no-untyped-def]
    bodies = _wait(f"{url} answered by both pods", lambda: (b := wget(url, n=20)) and set(b) == set(ready_pods()) and b)
    assert "FAILED" not in bodies


def test_dns_over_tcp_through_the_cluster_ip(my_nginx) -> None:  # type: ignore[no-untyped-def]
    """TCP 53 takes the same path (the proxy's dns-tcp port): a query on a TCP connection to 10.96.0.10,
    framed by hand (busybox's nslookup speaks only UDP)."""
    # a DNS query for my-nginx.default.svc.cluster.local A, 2-byte length prefix (RFC 1035 4.2.2)
    name = b"".join(bytes([len(p)]) + p.encode() for p in "my-nginx.default.svc.cluster.local".split(".")) + b"\0"
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name + b"\x00\x01\x00\x01"
    framed = (len(query).to_bytes(2, "big") + query).hex()
    escaped = "".join(f"\\x{framed[i : i + 2]}" for i in range(0, len(framed), 2))
    svc_ip = json.loads(_ok("get", "service", "my-nginx", "-o", "json"))["spec"]["clusterIP"]
    packed_ip = bytes(int(x) for x in svc_ip.split(".")).hex()

    def answered() -> bool:
        out = in_pod(f"printf '{escaped}' | timeout 5 nc 10.96.0.10 53 | od -An -tx1 | tr -d ' \\n'")
        return out.returncode == 0 and packed_ip in out.stdout  # the ClusterIP's 4 bytes in the answer

    assert _wait("a TCP DNS answer", answered)


def test_a_headless_service_resolves_to_every_ready_pod(my_nginx) -> None:  # type: ignore[no-untyped-def]
    want = sorted(ready_pods().values())
    assert _wait("both pod IPs", lambda: nslookup("my-nginx-headless.default.svc.cluster.local") == want or None)


def test_node_port_answers_on_the_node_address(my_nginx, cluster) -> None:  # type: ignore[no-untyped-def]
    svc = json.loads(_ok("get", "service", "my-nginx-nodeport", "-o", "json"))
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    url = f"http://{cluster.layout.pod_gateway}:{node_port}"  # the node's address as its pods see it
    assert _wait("the NodePort from a pod", lambda: nginx_serves(b := wget(url, n=5)) and b)

    def from_the_host() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return str(resp.read().decode().strip())
        except OSError:
            return None

    assert _wait("the NodePort from the node", from_the_host) in ready_pods()


def tls_hello_from_pod(ca_file: str, host: str, port: int) -> ssl.SSLObject | None:
    """Open a TLS 1.3 handshake from the client pod to host:port and check the server's first flight here.

    busybox's own TLS client offers no cipher suite for the cluster's ECDSA certificates, so the pod only
    carries bytes: a ClientHello made by Python's ssl (MemoryBIO) is sent with `nc`, the server's answer
    (ServerHello ... certificate, its proof and Finished, all in one TLS 1.3 flight) comes back and
    completes the handshake here, verified against the cluster's CA. None until the server answered."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False  # the chain is what matters here: signed by this cluster's CA
    ctx.load_verify_locations(ca_file)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=host)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = "".join(f"\\x{b:02x}" for b in outgoing.read())
    out = in_pod(f"(printf '{hello}'; sleep 3) | timeout 10 nc {host} {port} | od -An -v -tx1")
    incoming.write(bytes.fromhex("".join(out.stdout.split())))
    try:
        tls.do_handshake()  # raises SSLCertVerificationError for a certificate our CA did not sign
    except ssl.SSLWantReadError:
        return None  # no (complete) answer yet
    return tls


def test_a_pod_reaches_the_api_at_kubernetes_default_svc(my_nginx, cluster) -> None:  # type: ignore[no-untyped-def]
    """kubernetes.default.svc:443 -> (skiff-dns) 10.96.0.1:443 -> (skiff-proxy) the apiserver's REST API on
    the pod bridge's gateway, the --advertise-address `skiff up` gives it."""
    ep = json.loads(_ok("get", "endpoints", "kubernetes", "-o", "json"))
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == [cluster.layout.pod_gateway]
    ca = cluster.tls["admin"].ca_file
    tls = _wait(
        "a TLS handshake with the API from a pod", lambda: tls_hello_from_pod(ca, "kubernetes.default.svc", 443)
    )
    assert tls.version() == "TLSv1.3" and tls.getpeercert(), tls.getpeercert()


def test_a_rolling_update_fails_no_request(my_nginx, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What `kubectl rollout restart` does (a restartedAt annotation on the template) while the client asks
    my-nginx by name without pause: every request answered, by old pods and then by new ones."""
    before = set(ready_pods())
    loop = (
        "rm -f /tmp/stop; while [ ! -f /tmp/stop ]; do "
        "timeout 10 wget -qO- http://my-nginx || echo FAILED; sleep 0.05; done"
    )
    client = subprocess.Popen([SKIFF, "exec", "curl", "--", "sh", "-c", loop], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        restarted = RUN_MY_NGINX.replace(
            "      labels:\n        run: my-nginx\n",
            "      labels:\n        run: my-nginx\n      annotations:\n"
            f"        kubectl.kubernetes.io/restartedAt: '{time.time():.0f}'\n",
        )
        (tmp_path / "restart.yaml").write_text(restarted)
        _ok("apply", "-f", str(tmp_path / "restart.yaml"))
        after = _wait(
            "the rollout to replace both pods",
            lambda: (now := ready_pods()) and len(now) == 2 and not set(now) & before and set(now),
            timeout=180,
        )
        # the old pods' drain ends; requests go on a little longer against the new pods only
        _wait(
            "the old pods gone",
            lambda: not set(p["metadata"]["name"] for p in _items("pods", "-l", "run=my-nginx")) & before,
            timeout=120,
        )
        time.sleep(2)
    finally:
        in_pod("touch /tmp/stop")
        out, _ = client.communicate(timeout=60)
    bodies = out.split()
    assert bodies and "FAILED" not in bodies, f"{bodies.count('FAILED')} of {len(bodies)} requests failed"
    assert set(bodies) & before and set(bodies) & after, bodies  # served by the old and the new pods


def _kill_and_wait_for_restart(cluster, name: str) -> None:  # type: ignore[no-untyped-def]
    pid_dir = cluster.layout.pid_dir
    before = processes.running_pid(name, pid_dir)
    assert before is not None
    os.kill(before, signal.SIGKILL)
    _wait(f"the supervisor to restart {name}", lambda: processes.running_pid(name, pid_dir) not in (None, before))


def test_the_proxy_restarts_without_dropping_connections(my_nginx, cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A request is half sent on a connection through the ClusterIP when the proxy is killed -9; the supervisor
    starts it again, it rebuilds its table, and the connection (conntrack's, not the proxy's) still
    completes. A Service made meanwhile is served after one sync."""
    svc_ip = json.loads(_ok("get", "service", "my-nginx", "-o", "json"))["spec"]["clusterIP"]
    slow = "(printf 'GET / HTTP/1.0\\r\\n'; sleep 8; printf '\\r\\n') | timeout 30 nc " + svc_ip + " 80"
    client = subprocess.Popen([SKIFF, "exec", "curl", "--", "sh", "-c", slow], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(2)  # connected, headers half sent
        _kill_and_wait_for_restart(cluster, "proxy")
        late = NGINX_SVC.replace("name: my-nginx\n  labels", "name: late\n  labels")
        (tmp_path / "late.yaml").write_text(late)
        _ok("apply", "-f", str(tmp_path / "late.yaml"))
    finally:
        out, _ = client.communicate(timeout=60)
    try:
        assert out.startswith("HTTP/1.") and " 200 " in out.splitlines()[0], out
        assert out.split()[-1] in ready_pods(), out
        assert _wait("the Service made during the restart", lambda: nginx_serves(b := wget("http://late", n=3)) and b)
    finally:
        _run("delete", "service", "late")


def test_dns_restarts_and_serves_no_stale_answer(my_nginx, cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """skiff-dns killed -9 and restarted: it answers again from fresh caches; a Service deleted afterwards
    stops resolving (NXDOMAIN) once the watch event arrives, not at some cache expiry, and one created
    resolves."""
    doomed = NGINX_SVC.replace("name: my-nginx\n  labels", "name: doomed\n  labels")
    (tmp_path / "doomed.yaml").write_text(doomed)
    _ok("apply", "-f", str(tmp_path / "doomed.yaml"))
    doomed_ip = json.loads(_ok("get", "service", "doomed", "-o", "json"))["spec"]["clusterIP"]
    assert _wait("doomed resolving", lambda: nslookup("doomed.default.svc.cluster.local") == [doomed_ip] or None)
    _kill_and_wait_for_restart(cluster, "dns")
    assert _wait(
        "answers after the restart", lambda: nslookup("doomed.default.svc.cluster.local") == [doomed_ip] or None
    )
    _ok("delete", "service", "doomed")
    _wait(
        "doomed gone",
        lambda: "NXDOMAIN" in (o := in_pod("nslookup doomed.default.svc.cluster.local")).stdout + o.stderr or None,
    )
    assert nslookup("doomed.default.svc.cluster.local") == []
    assert _wait("my-nginx still answering by name", lambda: nginx_serves(b := wget("http://my-nginx", n=3)) and b)


BAD = {
    "taken-ip": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad-ip\nspec:\n  clusterIP: 10.96.0.10\n"
        "  ports:\n  - port: 80\n",
        ("spec.clusterIP", "already allocated"),
    ),
    "node-port-out-of-range": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad-np\nspec:\n  type: NodePort\n"
        "  ports:\n  - port: 80\n    nodePort: 80\n",
        ("spec.ports[0].nodePort", "valid range"),
    ),
    "port-name-not-a-dns-label": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad-name\nspec:\n"
        "  ports:\n  - name: Not_A_Label\n    port: 80\n  - name: https\n    port: 443\n",
        ("spec.ports[0].name", "Invalid value"),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_services_get_field_errors(cluster, tmp_path: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    manifest, (field, reason) = BAD[case]
    (tmp_path / "bad.yaml").write_text(manifest)
    out = _run("apply", "-f", str(tmp_path / "bad.yaml"))
    text = out.stdout + out.stderr
    assert out.returncode != 0 and field in text and reason in text, text
    assert "Traceback" not in text and "INTERNAL" not in text, text
