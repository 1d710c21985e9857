"""A real one-node cluster for end-to-end tests: etcd and the five services as processes.

The cluster lives in a temporary folder, on free ports, with its own bridge, pod CIDR and cgroup root,
so it never collides with a developer's own `skiff up` cluster. It is built by the same code as
`skiff up` and torn down by the same code as `skiff down`.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import secrets
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from skiff_cli import kubeconfig
from skiff_cli.clientconfig import save_client_config
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster

SKIFF = str(Path(sys.executable).parent / "skiff")
sys.path.insert(0, str(Path(__file__).parent))  # helper modules beside the tests (nginx_standin)
sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/polling.py
from polling import wait_for  # noqa: E402  (found through the path above)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (namespaces, cgroups, mounts)")
    suffix = secrets.token_hex(3)
    state_dir = tmp_path_factory.mktemp("cluster")
    layout = ClusterLayout.ephemeral(state_dir, suffix, pod_subnet=200 + secrets.randbelow(50))
    local = LocalCluster(layout, say=lambda line: print(f"[cluster] {line}"))
    config = state_dir / "client.yaml"
    save_client_config(local.client_config(), config)
    os.environ["SKIFFCONFIG"] = str(config)
    try:
        local.up()
        # `skiff` reads the standard kubeconfig, as kubectl does: the cluster's context in a file of its own.
        os.environ["KUBECONFIG"] = str(kubeconfig.merge(layout.rest_url, local.tls["admin"], state_dir / "kubeconfig"))
        yield local
    finally:
        local.down()


class Skiff:
    """Runs the real `skiff` command against the test cluster."""

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [SKIFF, *args], capture_output=True, text=True, timeout=timeout, input=input or "", check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"skiff {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result

    def on_terminal(
        self, *args: str, prompt: bytes, keys: bytes, rows: int = 40, cols: int = 120
    ) -> tuple[int | None, bytes]:
        """Run skiff on a pseudo-terminal of rows x cols; once `prompt` shows, type `keys`. Returns the exit
        status (None if it had to be killed after 60 s) and everything the terminal showed."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        proc = subprocess.Popen([SKIFF, *args], stdin=slave, stdout=slave, stderr=slave)
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
                except OSError:  # EIO: the last process holding the terminal exited
                    break
                shown += chunk
                if not typed and prompt in shown:  # typed earlier, a shell setting up its terminal drops it
                    os.write(master, keys)
                    typed = True
        finally:
            os.close(master)
            try:  # EIO comes as the process closes its terminal on exit: give it a moment to be reaped
                proc.wait(timeout=max(0.0, min(5.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                pass
            killed = proc.poll() is None
            if killed:
                proc.kill()
            proc.wait()
        return (None if killed else proc.returncode), shown

    def apply_text(self, manifest: str) -> None:
        self("apply", "-f", "-", input=manifest)

    def running_pod(self, name: str, namespace: str, timeout: float = 120) -> dict:  # type: ignore[type-arg]
        """The pod once its phase is Running."""
        return self.wait_for(  # type: ignore[no-any-return]
            f"pod {name} to be Running",
            lambda: (p := self.get_json("pod", name, "-n", namespace))["status"].get("phase") == "Running" and p,
            timeout=timeout,
        )

    def get_json(self, *args: str) -> dict:
        return json.loads(self("get", *args, "-o", "json").stdout)

    def wait_for(self, what: str, check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
        return wait_for(what, check, timeout)


@pytest.fixture
def skiff(cluster: LocalCluster) -> Skiff:
    return Skiff()


@pytest.fixture
def namespace(skiff: Skiff) -> Iterator[str]:
    """A namespace of the test's own, removed with its pods afterwards."""
    ns = f"e2e-{secrets.token_hex(3)}"
    skiff.apply_text(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n")
    try:
        yield ns
    finally:
        skiff("delete", "pods", "--all", "-n", ns, "--now", check=False)  # busybox sh ignores SIGTERM
        skiff("delete", "namespace", ns, check=False)
