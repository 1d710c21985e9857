"""PullImage through the CRI server against a real registry: a docker.io mirror configured in hosts.toml
(so `busybox:1.36` pulls on a machine without internet), concurrent pulls sharing one download, and the
error codes a kubelet sees (auth, not found, corrupt content, bad configuration)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from criharness import Harness, cri_server
from realregistry import RealRegistry, free_port
from skiff.cri.runtime.v1 import api_pb2 as cri

# layers are unpacked with their owners (chown) and the CRI tests create namespaces
pytestmark = pytest.mark.root
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def mirror_docker_io(config_dir: Path, reg: RealRegistry, server: str) -> None:
    """docker.io served by `reg` first; `server` (the upstream) only if the mirror fails."""
    (config_dir / "docker.io").mkdir(parents=True, exist_ok=True)
    (config_dir / "docker.io" / "hosts.toml").write_text(
        f'server = "{server}"\n\n[host."http://{reg.host}"]\n  capabilities = ["pull", "resolve"]\n'
    )


def pull_request(image: str, user: str = "", password: str = "") -> cri.PullImageRequest:
    return cri.PullImageRequest(image=cri.ImageSpec(image=image), auth=cri.AuthConfig(username=user, password=password))


async def status(h: Harness, image: str) -> cri.Image:
    return (await h.image_stub.ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image=image)))).image


async def test_docker_io_mirror_and_concurrent_pulls_share_downloads(tmp_path: Path, registry: RealRegistry) -> None:
    # The upstream is a closed port on 127.0.0.1, standing in for an unreachable Docker Hub: if the mirror
    # were not used, the pull would fail, and no packet leaves this machine either way.
    mirror_docker_io(tmp_path / "certs.d", registry, f"http://127.0.0.1:{free_port()}")
    manifest = json.loads(registry.manifest("library/busybox", "1.36", OCI_MANIFEST))
    async with cri_server(tmp_path) as h:
        h.runtime.config.registry_config_dir = str(tmp_path / "certs.d")
        results = await asyncio.gather(*(h.image_stub.PullImage(pull_request("busybox:1.36")) for _ in range(6)))
        assert len({r.image_ref for r in results}) == 1
        image = await status(h, "busybox:1.36")
        assert image.id == results[0].image_ref
        assert list(image.repo_tags) == ["docker.io/library/busybox:1.36"]
        for desc in [manifest["config"], *manifest["layers"]]:
            assert registry.blob_gets(desc["digest"]) == 1, desc["digest"]
        # a tag the mirror does not have: both hosts are named in the error, nothing is left behind
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.image_stub.PullImage(pull_request("busybox:nope"))
        assert registry.host in (err.value.details() or "")
        assert len((await h.image_stub.ListImages(cri.ListImagesRequest())).images) == 1


async def test_pull_errors_reach_the_kubelet_as_status_codes(
    tmp_path: Path, start_reg: Callable[..., RealRegistry], busybox_layout: Path
) -> None:
    reg = start_reg(user="skiff", password="s3cret")
    reg.push(busybox_layout, "library/busybox:1.36")
    image = f"{reg.host}/library/busybox:1.36"
    async with cri_server(tmp_path) as h:
        h.runtime.config.insecure_registries = [reg.host]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.image_stub.PullImage(pull_request(image, "skiff", "wrong"))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "wrong or missing credentials" in (err.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.image_stub.PullImage(pull_request(f"{reg.host}/library/busybox:nope", "skiff", "s3cret"))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        config = json.loads(reg.manifest("library/busybox", "1.36", OCI_MANIFEST))["config"]["digest"]
        blob = reg.blob_file(config)
        blob.write_bytes(blob.read_bytes().replace(b"sh", b"SH"))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.image_stub.PullImage(pull_request(image, "skiff", "s3cret"))
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE and "digest" in (err.value.details() or "")
        assert (await h.image_stub.ListImages(cri.ListImagesRequest())).images == []
        # a broken hosts.toml is reported with its path, not ignored (a typo must not reroute pulls)
        (tmp_path / "certs.d" / reg.host).mkdir(parents=True)
        (tmp_path / "certs.d" / reg.host / "hosts.toml").write_text('server = "ftp://x"\n')
        h.runtime.config.registry_config_dir = str(tmp_path / "certs.d")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.image_stub.PullImage(pull_request(image, "skiff", "s3cret"))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "hosts.toml" in (err.value.details() or "") and "ftp://x" in (err.value.details() or "")


async def test_a_pulled_image_runs(tmp_path: Path, registry: RealRegistry) -> None:
    """The walking skeleton's path: `busybox:1.36` from the docker.io mirror, then a container from it."""
    mirror_docker_io(tmp_path / "certs.d", registry, f"http://{registry.host}")
    async with cri_server(tmp_path) as h:
        h.runtime.config.registry_config_dir = str(tmp_path / "certs.d")
        rs = h.runtime_stub
        await h.image_stub.PullImage(pull_request("busybox:1.36"))
        pod = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name="pulled", namespace="default", uid=f"uid-pulled-{free_port()}"),
            hostname="pulled",
            log_directory=str(tmp_path / "logs"),
        )
        sid = (await rs.RunPodSandbox(cri.RunPodSandboxRequest(config=pod))).pod_sandbox_id
        container = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="main"),
            image=cri.ImageSpec(image="busybox:1.36"),
            command=["sh", "-c", "echo from-the-registry"],
            log_path="main/0.log",
        )
        cid = (
            await rs.CreateContainer(
                cri.CreateContainerRequest(pod_sandbox_id=sid, sandbox_config=pod, config=container)
            )
        ).container_id
        await rs.StartContainer(cri.StartContainerRequest(container_id=cid))
        for _ in range(200):
            status = (await rs.ContainerStatus(cri.ContainerStatusRequest(container_id=cid))).status
            if status.state == cri.CONTAINER_EXITED:
                break
            await asyncio.sleep(0.05)
        assert status.state == cri.CONTAINER_EXITED and status.exit_code == 0
        assert "from-the-registry" in (tmp_path / "logs" / "main" / "0.log").read_text()
        await rs.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
