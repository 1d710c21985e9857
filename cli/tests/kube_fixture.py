"""A real etcd, a real skiff-apiserver process serving the Kubernetes REST API (plain HTTP on a free
port), skiff-controllers, and a kubeconfig that points at it: what every CLI verb's test runs against. One per test
session (starting them is the slow part); each test works in a namespace of its own.

`skiff(...)` runs the CLI in this process (its parser, its error layer, its exit status) and captures
what it prints; `kubectl(...)` runs real kubectl against the same server, for comparisons.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from skiff_cluster_fixture import ETCD, free_port

BIN = Path(sys.executable).parent
KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Kube:
    url: str
    config: Path
    grpc: str

    def skiff(self, *args: str, input: str | None = None) -> Result:
        from skiff_cli.main import main

        out, err = io.StringIO(), io.StringIO()
        old_in = sys.stdin
        sys.stdin = io.StringIO(input or "")
        code = 0
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main(["--kubeconfig", str(self.config), *args])
                except SystemExit as exit_:
                    code = exit_.code if isinstance(exit_.code, int) else (print(exit_.code, file=sys.stderr) or 1)
        finally:
            sys.stdin = old_in
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, *args: str, input: str | None = None) -> str:
        r = self.skiff(*args, input=input)
        assert r.code == 0, f"skiff {' '.join(args)} failed ({r.code}): {r.err}"
        return r.out

    def kubectl(self, *args: str, input: str | None = None) -> Result:
        if not KUBECTL.exists():
            pytest.skip("kubectl 1.33 is not installed")
        env = {**os.environ, "KUBECONFIG": str(self.config), "HOME": str(self.config.parent)}
        r = subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=env, input=input, timeout=60)
        return Result(r.returncode, r.stdout, r.stderr)

    def namespace(self) -> str:
        name = f"t-{uuid.uuid4().hex[:8]}"
        self.ok("create", "namespace", name)
        return name


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    tmp = tmp_path_factory.mktemp("kube")
    client, peer = free_port(), free_port()
    endpoint = f"127.0.0.1:{client}"
    procs: list[subprocess.Popen[bytes]] = []
    log = open(tmp / "log", "ab")
    try:
        procs.append(
            subprocess.Popen(
                [
                    str(ETCD),
                    "--name",
                    "cli",
                    "--data-dir",
                    str(tmp / "etcd"),
                    "--listen-client-urls",
                    f"http://{endpoint}",
                    "--advertise-client-urls",
                    f"http://{endpoint}",
                    "--listen-peer-urls",
                    f"http://127.0.0.1:{peer}",
                    "--initial-advertise-peer-urls",
                    f"http://127.0.0.1:{peer}",
                    "--initial-cluster",
                    f"cli=http://127.0.0.1:{peer}",
                    "--log-level",
                    "error",
                ],
                stdout=log,
                stderr=log,
            )
        )
        grpc_port, rest_port = free_port(), free_port()
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "skiff-apiserver"),
                    "--listen",
                    f"127.0.0.1:{grpc_port}",
                    "--secure-port",
                    str(rest_port),
                    "--etcd-endpoints",
                    endpoint,
                    "--log-level",
                    "warning",
                    # no serviceaccount controller runs here to make `default` ServiceAccounts
                    "--disable-admission-plugins",
                    "ServiceAccount",
                ],
                stdout=log,
                stderr=log,
            )
        )
        # The controllers that turn Deployments into ReplicaSets (and revisions), for `rollout`; no
        # scheduler or kubelet: pods stay Pending, which no verb tested here needs otherwise.
        procs.append(subprocess.Popen(
            [str(BIN / "skiff-controllers"), "--apiserver", f"127.0.0.1:{grpc_port}",
             "--controllers", "deployment,replicaset,garbagecollector,namespace", "--log-level", "warning"],
            stdout=log, stderr=log))  # fmt: skip
        url = f"http://127.0.0.1:{rest_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"the apiserver did not become ready: {(tmp / 'log').read_text()[-2000:]}")
            time.sleep(0.2)
        config = tmp / "config"
        config.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
            f"clusters: [{{name: test, cluster: {{server: '{url}'}}}}]\n"
            "users: [{name: tester, user: {}}]\n"
            "contexts: [{name: test, context: {cluster: test, user: tester}}]\n"
        )
        yield Kube(url, config, f"127.0.0.1:{grpc_port}")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()
        shutil.rmtree(tmp / "etcd", ignore_errors=True)
