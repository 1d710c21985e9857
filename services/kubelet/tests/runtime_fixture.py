"""A real skiff-runtime process (black box: the `skiff-runtime` entry point) on a temp socket, with
temp state, a unique bridge and a unique /24 from the project-only 10.244.0.0/16 range, and the busybox
test image imported with `skiff-runtime import`. Teardown removes every sandbox over CRI first (shims
outlive the runtime by design), then stops the runtime and deletes the bridge."""

# ruff: noqa: ASYNC220, ASYNC221, ASYNC230 - a fixture may block briefly while starting a process

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff.cri.runtime.v1 import api_pb2_grpc

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


@dataclass
class Runtime:
    endpoint: str
    pod_cidr: str
    bridge: str
    tmp: Path
    cgroup_root: str  # what the kubelet under test must pass as --cgroup-root


def cgroup_hierarchies() -> list[Path]:
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return [root]
    return [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]


@pytest.fixture
def cgroup_root() -> Iterator[str]:
    """A cgroup root unique to the test; removed (empty, after the runtime removed every pod) at the end."""
    name = f"skiff-node-{secrets.token_hex(4)}"
    yield name
    for hierarchy in cgroup_hierarchies():
        top = hierarchy / name
        if top.is_dir():
            for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
                d.rmdir()
            top.rmdir()


@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not Path("/bin/busybox").is_file():
        pytest.skip("busybox-static is not installed (apt-get install busybox-static)")
    out = tmp_path_factory.mktemp("busybox") / "layout"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "images" / "build-busybox-image.py"), str(out)],
        check=True,
        capture_output=True,
    )
    return out


async def remove_all(endpoint: str) -> None:
    async with grpc.aio.insecure_channel(endpoint) as ch:
        stub = api_pb2_grpc.RuntimeServiceStub(ch)
        for sb in (await stub.ListPodSandbox(cri.ListPodSandboxRequest())).items:
            await stub.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sb.id))
            await stub.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sb.id))


@pytest.fixture
async def runtime(tmp_path: Path, busybox_layout: Path, cgroup_root: str) -> AsyncIterator[Runtime]:
    bridge = f"sknode{secrets.token_hex(3)}"
    cidr = f"10.244.{secrets.randbelow(200) + 20}.0/24"
    sock = tmp_path / "cri.sock"
    state = tmp_path / "rt-state"
    subprocess.run(
        [
            str(BIN / "skiff-runtime"),
            "import",
            "--state-root",
            str(state),
            "--ref",
            "busybox:latest",
            str(busybox_layout),
        ],
        check=True,
        capture_output=True,
    )
    log = open(tmp_path / "runtime.log", "ab")
    proc = subprocess.Popen(
        [
            str(BIN / "skiff-runtime"),
            "serve",
            "--listen",
            f"unix://{sock}",
            "--state-root",
            str(state),
            "--run-root",
            str(tmp_path / "rt-run"),
            "--executor-state-root",
            str(tmp_path / "rt-oci"),
            "--bridge",
            bridge,
            "--pod-cidr",
            cidr,
            "--cni-bin-dirs",
            "/usr/lib/cni",
        ],
        stdout=log,
        stderr=log,
    )
    endpoint = f"unix://{sock}"
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"skiff-runtime did not start: {(tmp_path / 'runtime.log').read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        yield Runtime(endpoint, cidr, bridge, tmp_path, cgroup_root)
    finally:
        try:
            await remove_all(endpoint)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()
            subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
