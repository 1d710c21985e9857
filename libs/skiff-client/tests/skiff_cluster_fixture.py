"""Test fixtures shared by the node-side packages: a real etcd and an in-process apiserver.

Imported by skiff-client's and the kubelet/scheduler/controllers' conftest files (they put this
directory on sys.path). The apiserver's own fixtures live in its tests/ folder, which is not an
importable module, so this is a small fixture of our own (the brief allows that).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from skiff_client import ApiClient
from skiff_common import errors

ETCD = Path(sys.executable).parent / "etcd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Etcd:
    endpoint: str
    proc: subprocess.Popen[bytes]
    data_dir: Path


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[Etcd]:
    name = f"node-test-{uuid.uuid4().hex[:8]}"
    client, peer = free_port(), free_port()
    data = tmp_path / name
    endpoint = f"127.0.0.1:{client}"
    log = open(tmp_path / "etcd.log", "ab")
    proc = subprocess.Popen(
        [
            str(ETCD),
            "--name",
            name,
            "--data-dir",
            str(data),
            "--listen-client-urls",
            f"http://{endpoint}",
            "--advertise-client-urls",
            f"http://{endpoint}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-cluster",
            f"{name}=http://127.0.0.1:{peer}",
            "--log-level",
            "error",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            r = subprocess.run(
                [str(ETCD.parent / "etcdctl"), "--endpoints", endpoint, "endpoint", "health"],
                capture_output=True,
            )
            if r.returncode == 0:
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("etcd did not become healthy")
            time.sleep(0.1)
        yield Etcd(endpoint, proc, data)
    finally:
        proc.kill()
        proc.wait(10)
        log.close()
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class Cluster:
    target: str
    app: object


@pytest.fixture
async def apiserver(etcd: Etcd) -> AsyncIterator[Cluster]:
    from skiff_apiserver.app import ApiServerApp
    from skiff_apiserver.config import ApiServerConfig

    cfg = ApiServerConfig(
        listen="127.0.0.1:0",
        etcd_endpoints=[etcd.endpoint],
        etcd_prefix="/registry",
        bookmark_interval=0.5,
        # A bare apiserver has no serviceaccount controller to make `default` ServiceAccounts (Kubernetes'
        # integration tests turn this plugin off likewise); tests that want it set it back.
        disable_admission_plugins=["ServiceAccount"],
    )
    app = ApiServerApp(cfg)
    port = await app.start()
    try:
        yield Cluster(f"127.0.0.1:{port}", app)
    finally:
        await app.stop(0)


@pytest.fixture
async def client(apiserver: Cluster) -> AsyncIterator[ApiClient]:
    c = ApiClient.connect(apiserver.target)
    try:
        yield c
    finally:
        await c.close()


async def eventually(check: Callable[[], Awaitable[Any]], what: str, within: float = 60.0) -> Any:
    """Poll `check` until it returns something truthy (NotFound counts as "not yet"); fail naming `what`.
    The limit only bounds a failing test: nothing here asserts how fast things happen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: Any = None
    while loop.time() < deadline:
        try:
            last = await check()
            if last:
                return last
        except errors.NotFound:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


async def gone(client: ApiClient, kind: type[Any], name: str, namespace: str = "default", within: float = 60.0) -> None:
    """Wait until the object is deleted (NotFound); fail naming it."""

    async def absent() -> bool:
        try:
            await client.get(kind, name, namespace)
        except errors.NotFound:
            return True
        return False

    await eventually(absent, f"{kind.__name__} {namespace}/{name} deleted", within)
