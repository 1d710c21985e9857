"""Pod networking beyond the basics: traffic to a pod over our bridge, hostPort rules, hostNetwork pods,
and UpdateRuntimeConfig's pod CIDR."""

# These tests inspect host state (iptables, /proc) with quick blocking calls between RPCs, on purpose.
# ruff: noqa: ASYNC230, ASYNC240

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

import grpc
import pytest
from criharness import cri_server, iptables_lines, remove_idle_portmap_chains
from skiff.cri.runtime.v1 import api_pb2 as cri

pytestmark = pytest.mark.root


def _pod(tmp: Path, name: str, **kw: object) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, namespace="default", uid=f"uid-{name}-{os.getpid()}"),
        hostname=name,
        log_directory=str(tmp / "logs" / name),
        **kw,
    )  # type: ignore[arg-type]


def _container(command: list[str]) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"),
        image=cri.ImageSpec(image="busybox"),
        command=command,
        log_path="c.log",
        linux=cri.LinuxContainerConfig(
            security_context=cri.LinuxContainerSecurityContext(namespace_options=cri.NamespaceOption(pid=cri.CONTAINER))
        ),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _http_get(ip: str, port: int) -> bytes:
    for _ in range(100):
        try:
            reader, writer = await asyncio.open_connection(ip, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.write(b"GET /index.html HTTP/1.0\r\n\r\n")
        data = await reader.read()
        writer.close()
        return data
    raise AssertionError(f"nothing listens on {ip}:{port}")


async def test_pod_serves_over_the_bridge_and_host_port_rules(tmp_path: Path, busybox_layout: Path) -> None:
    async with cri_server(tmp_path, busybox_layout) as h:
        rs = h.runtime_stub
        host_port = _free_port()
        config = _pod(
            tmp_path,
            "web",
            port_mappings=[
                cri.PortMapping(protocol=cri.TCP, container_port=8080, host_port=host_port, host_ip="127.0.0.1")
            ],
        )
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
        assert any(f"--dport {host_port}" in line for line in iptables_lines("CNI-DN"))
        cid = (
            await rs.CreateContainer(
                cri.CreateContainerRequest(
                    pod_sandbox_id=sid,
                    sandbox_config=config,
                    config=_container(
                        [
                            "sh",
                            "-c",
                            "mkdir /www && echo served-by-skiff > /www/index.html && exec httpd -f -p 8080 -h /www",
                        ]
                    ),
                )
            )
        ).container_id
        await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
        ip = (await rs.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))).status.network.ip
        assert b"served-by-skiff" in await _http_get(ip, 8080)  # host -> our bridge -> pod
        await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
        assert not any(f"--dport {host_port}" in line for line in iptables_lines("CNI-DN"))
        assert iptables_lines(sid) == []
    remove_idle_portmap_chains()


async def test_host_network_pod(tmp_path: Path, busybox_layout: Path) -> None:
    async with cri_server(tmp_path, busybox_layout) as h:
        rs = h.runtime_stub
        config = _pod(
            tmp_path,
            "hostnet",
            linux=cri.LinuxPodSandboxConfig(
                security_context=cri.LinuxSandboxSecurityContext(
                    namespace_options=cri.NamespaceOption(network=cri.NODE)
                )
            ),
        )
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
        status = (await rs.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))).status
        assert status.network.ip == "" and status.linux.namespaces.options.network == cri.NODE
        assert h.runtime.sandboxes.store.get(sid).netns_path == ""
        cid = (
            await rs.CreateContainer(
                cri.CreateContainerRequest(
                    pod_sandbox_id=sid, sandbox_config=config, config=_container(["sleep", "30"])
                )
            )
        ).container_id
        await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
        pid = h.runtime.containers.store.get(cid).pid
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino
        assert os.stat(f"/proc/{pid}/ns/uts").st_ino == os.stat("/proc/self/ns/uts").st_ino
        await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


@pytest.mark.parametrize(
    ("dns_config", "expected"),
    [
        # what the kubelet sends for dnsPolicy ClusterFirstWithHostNet: the cluster DNS, in the container too
        (
            cri.DNSConfig(servers=["10.96.0.10"], searches=["default.svc.cluster.local"], options=["ndots:5"]),
            "search default.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
        ),
        (None, None),  # ClusterFirst or Default on the host network: no DNSConfig, the node's own file
    ],
    ids=["ClusterFirstWithHostNet", "no-dns-config"],
)
async def test_host_network_pod_resolv_conf_follows_the_dns_config(
    tmp_path: Path, busybox_layout: Path, dns_config: cri.DNSConfig | None, expected: str | None
) -> None:
    async with cri_server(tmp_path, busybox_layout) as h:
        rs = h.runtime_stub
        namespaces = cri.NamespaceOption(network=cri.NODE)
        config = _pod(
            tmp_path,
            "hostnet-dns",
            dns_config=dns_config,
            linux=cri.LinuxPodSandboxConfig(
                security_context=cri.LinuxSandboxSecurityContext(namespace_options=namespaces)
            ),
        )
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
        try:
            create = cri.CreateContainerRequest(
                pod_sandbox_id=sid, sandbox_config=config, config=_container(["sleep", "30"])
            )
            cid = (await rs.CreateContainer(create)).container_id
            await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
            pid = h.runtime.containers.store.get(cid).pid
            seen = Path(f"/proc/{pid}/root/etc/resolv.conf").read_text()
            node = Path("/etc/resolv.conf").read_text() if Path("/etc/resolv.conf").exists() else ""
            assert seen == (expected if expected is not None else node)
        finally:
            await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))


async def test_update_runtime_config_pod_cidr(tmp_path: Path) -> None:
    async with cri_server(tmp_path) as h:
        new_cidr = h.config.pod_cidr.replace(".0/24", ".0/25")
        await h.runtime_stub.UpdateRuntimeConfig(
            cri.UpdateRuntimeConfigRequest(
                runtime_config=cri.RuntimeConfig(network_config=cri.NetworkConfig(pod_cidr=new_cidr))
            )
        )
        conflist = json.loads((h.runtime.network.owned_dir / "10-skiff.conflist").read_text())
        assert conflist["plugins"][0]["ipam"]["ranges"] == [[{"subnet": new_cidr}]]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.runtime_stub.UpdateRuntimeConfig(
                cri.UpdateRuntimeConfigRequest(
                    runtime_config=cri.RuntimeConfig(network_config=cri.NetworkConfig(pod_cidr="10.0.0.0/99"))
                )
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "runtime_config.network_config.pod_cidr" in (err.value.details() or "")
