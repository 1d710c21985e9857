"""Real etcd processes and in-process apiservers for the apiserver tests (used by conftest.py and by
tests that build their own clusters). A module of its own, not conftest: `import conftest` could find
another package's conftest first."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_apiserver.app import ApiServerApp
from skiff_apiserver.config import ApiServerConfig
from skiff_common.grpcutil import TLSConfig

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
    tls: TLSConfig | None = None  # serve clients over mutual TLS with this server certificate and CA
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self, *, new: bool = True) -> None:
        log = open(self.data_dir.parent / f"{self.name}.log", "ab")
        scheme = "https" if self.tls else "http"
        args = [
            str(ETCD),
            "--name",
            self.name,
            "--data-dir",
            str(self.data_dir),
            "--listen-client-urls",
            f"{scheme}://{self.endpoint}",
            "--advertise-client-urls",
            f"{scheme}://{self.endpoint}",
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
        if self.tls:
            args += [
                f"--cert-file={self.tls.cert_file}",
                f"--key-file={self.tls.key_file}",
                f"--trusted-ca-file={self.tls.ca_file}",
                "--client-cert-auth",
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


def make_config(endpoints: list[str], **overrides: object) -> ApiServerConfig:
    cfg = ApiServerConfig(
        listen="127.0.0.1:0",
        etcd_endpoints=endpoints,
        etcd_prefix=f"/registry-{uuid.uuid4().hex[:8]}",
        etcd_timeout=10.0,
        disable_admission_plugins=["ServiceAccount"],  # no serviceaccount controller here (see its test)
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
