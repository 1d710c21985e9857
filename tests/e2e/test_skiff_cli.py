"""The `skiff` verbs that need a node, on a real local cluster through the REST API: logs (-f, --tail,
-c, -l --prefix), exec (exit status, stdin), cp both ways, attach and port-forward (when the apiserver
lists those subresources in its discovery), rollout status on pods that really run, describe with the
kubelet's Events."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]
SKIFF = str(Path(sys.executable).parent / "skiff")
Skiff = Any

POD = """
apiVersion: v1
kind: Pod
metadata: {name: talker, labels: {app: talker}}
spec:
  containers:
    - name: talk
      image: busybox
      command: ["sh", "-c", "echo one; echo two; echo three; mkdir -p /data; echo inside > /data/file; sleep 3600"]
"""


def run(*args: str, input: str = "") -> str:
    r = subprocess.run([SKIFF, *args], capture_output=True, text=True, input=input, timeout=180, check=False)
    assert r.returncode == 0, f"skiff {' '.join(args)}: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def talker(cluster: LocalCluster) -> Iterator[str]:
    """One pod for the module's tests; it and the other pods they start are deleted at the end, so the
    cluster's cgroups hold nothing of ours for the next module."""
    run("apply", "-f", "-", input=POD)
    try:
        run("wait", "--for=condition=Ready", "pod/talker", "--timeout", "120s")
        deadline = time.monotonic() + 60
        while "three" not in run("logs", "talker") and time.monotonic() < deadline:
            time.sleep(0.3)
        yield "talker"
    finally:
        run("delete", "pod", "talker", "server", "--ignore-not-found", "--now")
        run("delete", "deploy", "roll", "--ignore-not-found")
        run("delete", "rs,pods", "-l", "app=roll", "--ignore-not-found", "--now")


def test_logs(skiff: Skiff, talker: str) -> None:
    assert skiff("logs", talker).stdout == "one\ntwo\nthree\n"
    assert skiff("logs", talker, "--tail", "1").stdout == "three\n"
    assert skiff("logs", talker, "-c", "talk").stdout == "one\ntwo\nthree\n"
    assert skiff("logs", "-l", "app=talker", "--prefix").stdout.splitlines()[0] == "[pod/talker/talk] one"
    follow = subprocess.Popen([SKIFF, "logs", "-f", talker], stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        assert [follow.stdout.readline() for _ in range(3)] == ["one\n", "two\n", "three\n"]
        assert follow.poll() is None  # still following
    finally:
        follow.terminate()
        follow.wait(10)
    missing = skiff("logs", talker, "-c", "nope", check=False)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr


def test_exec_exit_status_and_stdin(skiff: Skiff, talker: str) -> None:
    assert skiff("exec", talker, "--", "cat", "/data/file").stdout == "inside\n"
    failed = skiff("exec", talker, "--", "sh", "-c", "exit 3", check=False)
    assert (failed.returncode, failed.stderr) == (3, "command terminated with exit code 3\n")
    assert skiff("exec", "-i", talker, "--", "wc", "-c", input="12345").stdout.strip() == "5"
    assert skiff("exec", "pod/talker", "--", "echo", "by kind").stdout == "by kind\n"


def test_cp_both_ways(skiff: Skiff, talker: str, tmp_path: Path) -> None:
    skiff("cp", f"{talker}:/data/file", str(tmp_path / "out"))
    assert (tmp_path / "out").read_text() == "inside\n"
    (tmp_path / "in").write_bytes(os.urandom(100_000))
    skiff("cp", str(tmp_path / "in"), f"{talker}:/data/in")
    assert skiff("exec", talker, "--", "wc", "-c", "/data/in").stdout.split()[0] == "100000"


def serves(skiff: Skiff, subresource: str) -> bool:
    listed = json.loads(skiff("get", "--raw", "/api/v1").stdout)
    return any(r["name"] == f"pods/{subresource}" for r in listed["resources"])


def test_attach(skiff: Skiff, talker: str) -> None:
    """Attached to a container that prints nothing more, skiff stays attached without complaint."""
    if not serves(skiff, "attach"):
        pytest.skip("this apiserver does not serve pods/attach yet")
    proc = subprocess.Popen([SKIFF, "attach", talker], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        assert err == "", err
        return
    raise AssertionError(f"attach ended by itself: {err}")


def test_port_forward(skiff: Skiff, talker: str) -> None:
    if not serves(skiff, "portforward"):
        pytest.skip("this apiserver does not serve pods/portforward yet")
    skiff(
        "apply",
        "-f",
        "-",
        input="""
apiVersion: v1
kind: Pod
metadata: {name: server}
spec:
  containers:
    - name: srv
      image: busybox
      command: ["sh", "-c", "echo served > /index.html; httpd -f -p 8080 -h /"]
""",
    )
    skiff("wait", "--for=condition=Ready", "pod/server", "--timeout", "120s")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([SKIFF, "port-forward", "server", f"{port}:8080"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"Forwarding from 127.0.0.1:{port} -> 8080\n"
        reply = b""
        deadline = time.monotonic() + 60
        while not reply and time.monotonic() < deadline:  # httpd may still be starting: ask again
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                try:
                    while chunk := conn.recv(4096):
                        reply += chunk
                except (ConnectionResetError, TimeoutError):
                    pass  # the forwarder closed at once or never answered: its stderr says why
            if not reply:
                time.sleep(1)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert reply.startswith(b"HTTP/1.") and reply.endswith(b"served\n"), (reply, err)


def test_rollout_status_on_running_pods(skiff: Skiff, talker: str) -> None:
    skiff("create", "deployment", "roll", "--image", "busybox", "--replicas", "2", "--", "sleep", "3600")
    out = skiff("rollout", "status", "deploy/roll", "--timeout", "180").stdout
    assert out.splitlines()[-1] == 'deployment "roll" successfully rolled out'
    described = skiff("describe", "pods", "-l", "app=roll").stdout
    assert "Events:" in described
    skiff("delete", "deploy", "roll")
