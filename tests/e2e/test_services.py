"""Services end to end on a real cluster: the Kubernetes docs' `my-nginx` Service in front of pods, reached
through its ClusterIP from another pod via skiff-proxy's rules.

There is no nginx image here (nothing is pulled from the internet), so the pods behind `my-nginx` run
busybox's `httpd` on port 80 with the label `run: my-nginx`, serving their own hostname; the Service
manifest is the docs' one, unchanged. Clients use the ClusterIP here; names (cluster DNS) are in
test_my_nginx.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SKIFF = str(Path(sys.executable).parent / "skiff")

# https://kubernetes.io/docs/tutorials/services/connect-applications-service/ (unchanged)
MY_NGINX_SERVICE = """\
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

WEB_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    run: my-nginx
    instance: {name}
spec:
  containers:
  - name: web
    image: busybox
    command:
    - sh
    - -c
    - mkdir -p /www && hostname > /www/index.html && touch /www/ready && exec httpd -f -p 80 -h /www
    ports:
    - containerPort: 80
    readinessProbe:
      httpGet:
        path: /ready
        port: 80
      periodSeconds: 1
"""

EXTRA_SERVICES = """\
apiVersion: v1
kind: Service
metadata:
  name: only-web-a
spec:
  selector:
    instance: web-a
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: nobody-home
spec:
  selector:
    run: nobody
  ports:
  - port: 80
"""

CLIENT_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  containers:
  - name: client
    image: busybox
    command: ["sleep", "3600"]
"""


def fetch(skiff, pod: str, url: str, n: int = 1) -> tuple[list[str], str]:  # type: ignore[no-untyped-def]
    """`n` wget calls from inside `pod`; the bodies (hostnames) and wget's error output."""
    # busybox-static's wget crashes with its own -T (timeout) option, so the shell's timeout bounds it.
    script = f"for i in $(seq {n}); do timeout 10 wget -qO- {url} || echo FAILED; done"
    result = skiff("exec", pod, "--", "sh", "-c", script, check=False)
    return [line for line in result.stdout.split() if line], result.stderr


def _skiff(*args: str) -> subprocess.CompletedProcess[str]:
    """The real `skiff` command, for the module-scoped set-up (the `skiff` fixture is per test)."""
    out = subprocess.run([SKIFF, *args], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, f"skiff {' '.join(args)}: {out.stdout}{out.stderr}"
    return out


def _get(kind: str, name: str) -> dict:  # type: ignore[type-arg]
    return dict(json.loads(_skiff("get", kind, name, "-o", "json").stdout))


def _wait(what: str, check) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 120
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def services(cluster, tmp_path_factory) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    folder: Path = tmp_path_factory.mktemp("services")
    files = {
        "svc.yaml": MY_NGINX_SERVICE,
        "extra.yaml": EXTRA_SERVICES,
        "web-a.yaml": WEB_POD.format(name="web-a"),
        "web-b.yaml": WEB_POD.format(name="web-b"),
        "client.yaml": CLIENT_POD,
    }
    for name, text in files.items():
        (folder / name).write_text(text)
        _skiff("apply", "-f", str(folder / name))
    for pod in ("web-a", "web-b", "client"):
        _wait(f"{pod} running", lambda p=pod: _get("pod", p)["status"].get("phase") == "Running")
    ips = {name: _get("service", name)["spec"]["clusterIP"] for name in ("my-nginx", "only-web-a", "nobody-home")}
    yield ips
    for pod in ("web-a", "web-b", "client"):
        subprocess.run([SKIFF, "delete", "pod", pod], capture_output=True, check=False)
    for svc in ("my-nginx", "only-web-a", "nobody-home"):
        subprocess.run([SKIFF, "delete", "service", svc], capture_output=True, check=False)


def test_cluster_ip_reaches_both_pods(skiff, services: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    url = f"http://{services['my-nginx']}:80"
    seen = skiff.wait_for(
        "both pods answering through the ClusterIP",
        lambda: (bodies := set(fetch(skiff, "client", url, n=20)[0])) >= {"web-a", "web-b"} and bodies,
        timeout=90,
    )
    assert seen == {"web-a", "web-b"}  # every request answered, none FAILED


def test_readiness_failure_takes_a_pod_out_of_rotation(skiff, services: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    url = f"http://{services['my-nginx']}:80"
    skiff.wait_for("both pods in rotation", lambda: set(fetch(skiff, "client", url, n=20)[0]) == {"web-a", "web-b"})
    skiff("exec", "web-b", "--", "rm", "/www/ready")
    try:
        skiff.wait_for("only web-a answering", lambda: set(fetch(skiff, "client", url, n=20)[0]) == {"web-a"})
    finally:
        skiff("exec", "web-b", "--", "touch", "/www/ready")
    skiff.wait_for("web-b back in rotation", lambda: set(fetch(skiff, "client", url, n=20)[0]) == {"web-a", "web-b"})


def test_a_pod_reaches_itself_through_its_service(skiff, services: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    url = f"http://{services['only-web-a']}:80"
    bodies = skiff.wait_for("hairpin answers", lambda: (b := fetch(skiff, "web-a", url, n=3)[0]) == ["web-a"] * 3 and b)
    assert bodies == ["web-a"] * 3


def test_service_without_endpoints_is_refused(skiff, services: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    bodies, errors = fetch(skiff, "client", f"http://{services['nobody-home']}:80")
    assert bodies == ["FAILED"] and "refused" in errors.lower(), errors


MANUAL = """\
apiVersion: v1
kind: Service
metadata:
  name: manual
spec:
  ports:
  - port: 80
---
apiVersion: v1
kind: Endpoints
metadata:
  name: manual
subsets:
- addresses:
  - ip: {ip}
  ports:
  - port: 80
"""


def test_service_without_selector_reaches_hand_made_endpoints(skiff, services, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pod_ip = skiff.get_json("pod", "web-a")["status"]["podIP"]
    manifest = tmp_path / "manual.yaml"
    manifest.write_text(MANUAL.format(ip=pod_ip))
    skiff("apply", "-f", str(manifest))
    try:
        ip = skiff.get_json("service", "manual")["spec"]["clusterIP"]
        seen = skiff.wait_for(
            "the hand-made endpoint answering",
            lambda: (b := fetch(skiff, "client", f"http://{ip}:80")[0]) == ["web-a"] and b,
        )
        assert seen == ["web-a"]
    finally:
        skiff("delete", "service", "manual", check=False)
        skiff("delete", "endpoints", "manual", check=False)
