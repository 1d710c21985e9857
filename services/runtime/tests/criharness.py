"""Start a real skiff-runtime CRI server on a temp unix socket with temp state, a unique bridge and CIDR.

Used by the integration tests. The pod CIDR comes from 10.244.0.0/16 (a project-only range) with a random
third octet, the bridge name carries a random suffix, and `cleanup_host` removes the bridge and checks
that no iptables rule mentions our CIDR, so parallel helpers and test runs never collide.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from skiff.cri.runtime.v1 import api_pb2_grpc
from skiff_common.grpcutil import add_listen, create_server
from skiff_runtime.config import RuntimeConfig
from skiff_runtime.runtime import Runtime
from skiff_runtime.server import register


@dataclass
class Harness:
    runtime: Runtime
    config: RuntimeConfig
    socket: Path
    runtime_stub: api_pb2_grpc.RuntimeServiceStub
    image_stub: api_pb2_grpc.ImageServiceStub
    tmp: Path


def unique_network() -> tuple[str, str]:
    return f"skcri{secrets.token_hex(3)}", f"10.244.{secrets.randbelow(200) + 20}.0/24"


def iptables_lines(needle: str) -> list[str]:
    out = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if needle in line]


def cleanup_host(bridge: str) -> None:
    """Delete the test's bridge (CNI's bridge plugin creates it and never deletes it, by design)."""
    subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
    gone = subprocess.run(["ip", "link", "show", bridge], capture_output=True, check=False).returncode != 0
    assert gone, f"bridge {bridge} is still there"


@asynccontextmanager
async def cri_server(
    tmp: Path,
    busybox_layout: Path | None = None,
    *,
    bin_dirs: list[str] | None = None,
    executor: str = "skiff",
) -> AsyncIterator[Harness]:
    bridge, cidr = unique_network()
    config = RuntimeConfig(
        listen=f"unix://{tmp / 'cri.sock'}",
        state_root=str(tmp / "state"),
        run_root=str(tmp / "run"),
        executor_state_root=str(tmp / "oci"),
        executor=executor,
        bridge=bridge,
        pod_cidr=cidr,
        cni_bin_dirs=bin_dirs if bin_dirs is not None else ["/usr/lib/cni"],
    )
    runtime = Runtime.build(config)
    if busybox_layout is not None:
        runtime.importer.import_path(busybox_layout, "busybox:latest")
    await runtime.start()
    server = create_server("runtime.v1")
    register(server, runtime)
    add_listen(server, config.listen, None)
    await server.start()
    channel = grpc.aio.insecure_channel(config.listen)
    harness = Harness(
        runtime,
        config,
        tmp / "cri.sock",
        api_pb2_grpc.RuntimeServiceStub(channel),
        api_pb2_grpc.ImageServiceStub(channel),
        tmp,
    )
    try:
        yield harness
    finally:
        # a failed test must not leak: remove whatever pods are left (containers, mounts, IPs, cgroups)
        for record in harness.runtime.sandboxes.store.list():
            await harness.runtime.sandboxes.remove(record.id)
        for container in harness.runtime.containers.store.list():
            await harness.runtime.containers.remove(container.id)
        await channel.close()
        await server.stop(0)
        cleanup_host(bridge)


def remove_idle_portmap_chains() -> None:
    """portmap creates node-wide chains on first use and never deletes them; drop them again when no
    hostPort rule (ours or anyone's) is left in them, so a test leaves the node's iptables as it found it."""
    nat = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=False).stdout
    if any(line.startswith("-A CNI-HOSTPORT-DNAT") or line.startswith("-A CNI-DN-") for line in nat.splitlines()):
        return
    hooks = [
        ["PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"],
        ["OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"],
        [
            "POSTROUTING",
            "-m",
            "comment",
            "--comment",
            "CNI portfwd requiring masquerade",
            "-j",
            "CNI-HOSTPORT-MASQ",
        ],
    ]
    for rule in hooks:
        subprocess.run(["iptables", "-t", "nat", "-D", *rule], capture_output=True, check=False)
    for chain in ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"):
        subprocess.run(["iptables", "-t", "nat", "-F", chain], capture_output=True, check=False)
        subprocess.run(["iptables", "-t", "nat", "-X", chain], capture_output=True, check=False)
