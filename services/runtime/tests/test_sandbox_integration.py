"""RunPodSandbox / StopPodSandbox / RemovePodSandbox over the real CRI socket, with real CNI plugins."""

# These tests inspect host state (mounts, namespaces, ip) with quick blocking calls between RPCs, on purpose.
# ruff: noqa: ASYNC221, ASYNC240

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

import grpc
import pytest
from criharness import cri_server, iptables_lines
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_runtime.metrics import RuntimeCollector
from skiff_runtime.sandbox import cgroups

pytestmark = pytest.mark.root


def pod_config(tmp: Path, name: str = "web") -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, namespace="default", uid=f"uid-{name}-{os.getpid()}"),
        hostname=name,
        log_directory=str(tmp / "logs" / name),
        labels={"app": name},
        annotations={"note": "kept verbatim"},
        dns_config=cri.DNSConfig(servers=["10.96.0.10"], searches=["default.svc.cluster.local"], options=["ndots:5"]),
    )


async def test_status_and_version(tmp_path: Path) -> None:
    async with cri_server(tmp_path) as h:
        version = await h.runtime_stub.Version(cri.VersionRequest())
        assert (version.runtime_name, version.runtime_api_version) == ("skiff", "v1")
        status = await h.runtime_stub.Status(cri.StatusRequest())
        conditions = {c.type: c for c in status.status.conditions}
        assert conditions["RuntimeReady"].status and conditions["NetworkReady"].status


async def test_network_not_ready_without_plugins(tmp_path: Path) -> None:
    async with cri_server(tmp_path, bin_dirs=[str(tmp_path / "no-plugins")]) as h:
        status = await h.runtime_stub.Status(cri.StatusRequest())
        ready = {c.type: c for c in status.status.conditions}["NetworkReady"]
        assert not ready.status and "bridge" in ready.message
        # and a pod cannot be run: the failure releases everything it took
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.runtime_stub.RunPodSandbox(cri.RunPodSandboxRequest(config=pod_config(tmp_path)))
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        listed = await h.runtime_stub.ListPodSandbox(cri.ListPodSandboxRequest())
        assert list(listed.items) == []
        assert os.listdir(tmp_path / "run" / "netns") == []
        config = pod_config(tmp_path)
        assert not cgroups.exists(cgroups.normalize_parent("", config.metadata.uid))


async def test_invalid_sandbox_config_names_fields(tmp_path: Path) -> None:
    async with cri_server(tmp_path) as h:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.runtime_stub.RunPodSandbox(
                cri.RunPodSandboxRequest(
                    config=cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata(name="x")),
                    runtime_handler="kata",
                )
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "config.metadata.uid: Required value" in (err.value.details() or "")
        assert "runtime_handler" in (err.value.details() or "")
        bad = pod_config(tmp_path)
        bad.hostname = "Not_A_Hostname"
        bad.port_mappings.add(container_port=0, host_port=70000)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.runtime_stub.RunPodSandbox(cri.RunPodSandboxRequest(config=bad))
        details = err.value.details() or ""
        assert "config.hostname: Invalid value" in details
        assert "config.port_mappings[0].container_port" in details and "config.port_mappings[0].host_port" in details


async def test_sandbox_lifecycle_leaves_nothing(tmp_path: Path) -> None:
    async with cri_server(tmp_path) as h:
        rs = h.runtime_stub
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=pod_config(tmp_path)))).pod_sandbox_id
        status = (await rs.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))).status
        assert status.state == cri.SANDBOX_READY
        assert ipaddress.ip_address(status.network.ip) in ipaddress.ip_network(h.config.pod_cidr)
        assert dict(status.annotations) == {"note": "kept verbatim"}
        record = h.runtime.sandboxes.store.get(sid)
        netns = record.netns_path
        assert os.path.ismount(netns)
        # the pod's IP is on eth0 inside the pinned namespace, and the bridge answers as gateway
        addr = subprocess.run(
            ["nsenter", f"--net={netns}", "ip", "-4", "addr", "show", "eth0"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert status.network.ip in addr
        uts = subprocess.run(
            ["nsenter", f"--uts={record.uts_path}", "hostname"], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert uts == "web"
        resolv = (h.runtime.sandboxes.files_dir(sid) / "resolv.conf").read_text()
        assert "nameserver 10.96.0.10" in resolv and "options ndots:5" in resolv
        ipam_dir = Path(h.config.state_root) / "cni" / "networks" / "skiff"
        assert (ipam_dir / status.network.ip).exists()
        listed = await rs.ListPodSandbox(
            cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector={"app": "web"}))
        )
        assert [s.id for s in listed.items] == [sid]
        none = await rs.ListPodSandbox(
            cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector={"app": "x"}))
        )
        assert list(none.items) == []
        metrics = {m.name: m for m in RuntimeCollector(h.runtime).collect()}
        assert [(s.labels, s.value) for s in metrics["skiff_runtime_pod_sandboxes"].samples] == [
            ({"state": "ready"}, 1)
        ]
        # a second pod with the same name/attempt is refused
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=pod_config(tmp_path)))
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS

        await rs.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
        await rs.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))  # idempotent
        status = (await rs.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))).status
        assert status.state == cri.SANDBOX_NOTREADY
        assert not (ipam_dir / status.network.ip).exists()
        assert not os.path.exists(netns)
        await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
        await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))  # idempotent
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await rs.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sid))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert iptables_lines(sid) == []
        assert record.cgroup_parent.startswith("/skiff/pod") and not cgroups.exists(record.cgroup_parent)
        assert not os.path.exists(record.shm_path)
