#!/usr/bin/env python3
"""A sample device plugin: `example.com/gpu`, N fake devices, speaking Kubernetes' deviceplugin v1beta1.

    python examples/device-plugin/fake_gpu_plugin.py --plugin-dir /var/lib/skiff/kubelet/device-plugins \
        --devices 4 [--state-dir DIR] [--resource example.com/gpu]

It serves DevicePlugin on `<plugin-dir>/example-gpu.sock`, registers with the kubelet on
`<plugin-dir>/kubelet.sock`, and registers again whenever that socket is recreated (a kubelet restart),
as real plugins do. Each device `gpu-<i>` is a small file standing for its device node
(`<state-dir>/example-gpu<i>`), mounted into the container at `/dev/example-gpu<i>` and also offered as a
DeviceSpec; a container gets `EXAMPLE_GPU_DEVICES=gpu-0,gpu-2` naming its devices. The devices listed
in `<state-dir>/unhealthy` (one ID per line) are reported Unhealthy: tests toggle health by writing it.
`EXAMPLE_GPU_DEVICES` in the plugin's own environment sets the device count when --devices is not given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from skiff.deviceplugin.v1beta1 import api_pb2 as dp
from skiff.deviceplugin.v1beta1 import api_pb2_grpc as dp_grpc

SOCKET = "example-gpu.sock"


class FakeGpuPlugin(dp_grpc.DevicePluginServicer):
    def __init__(self, count: int, state_dir: Path, resource: str) -> None:
        self.ids = [f"gpu-{i}" for i in range(count)]
        self.state_dir = state_dir
        self.resource = resource
        self.changed = asyncio.Event()
        for i in range(count):
            (state_dir / f"example-gpu{i}").write_text(f"fake device gpu-{i}\n")

    def devices(self) -> list[dp.Device]:
        try:
            bad = set((self.state_dir / "unhealthy").read_text().split())
        except OSError:
            bad = set()
        return [dp.Device(ID=i, health="Unhealthy" if i in bad else "Healthy") for i in self.ids]

    async def GetDevicePluginOptions(self, request: dp.Empty, context: Any) -> dp.DevicePluginOptions:
        return dp.DevicePluginOptions(get_preferred_allocation_available=True)

    async def ListAndWatch(self, request: dp.Empty, context: Any) -> AsyncIterator[dp.ListAndWatchResponse]:
        last: list[tuple[str, str]] = []
        while True:
            devices = self.devices()
            now = [(d.ID, d.health) for d in devices]
            if now != last:
                yield dp.ListAndWatchResponse(devices=devices)
                last = now
            await asyncio.sleep(0.3)

    async def GetPreferredAllocation(
        self, request: dp.PreferredAllocationRequest, context: Any
    ) -> dp.PreferredAllocationResponse:
        out = dp.PreferredAllocationResponse()
        for r in request.container_requests:
            chosen = list(r.must_include_deviceIDs)
            chosen += [d for d in sorted(r.available_deviceIDs) if d not in chosen][: r.allocation_size - len(chosen)]
            out.container_responses.add(deviceIDs=chosen)
        return out

    async def Allocate(self, request: dp.AllocateRequest, context: Any) -> dp.AllocateResponse:
        out = dp.AllocateResponse()
        for r in request.container_requests:
            unknown = [d for d in r.devices_ids if d not in self.ids]
            if unknown:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown devices {unknown}")
            c = out.container_responses.add()
            c.envs["EXAMPLE_GPU_DEVICES"] = ",".join(r.devices_ids)
            for d in r.devices_ids:
                n = d.removeprefix("gpu-")
                host = str(self.state_dir / f"example-gpu{n}")
                c.mounts.add(container_path=f"/dev/example-gpu{n}", host_path=host, read_only=True)
                c.devices.add(container_path=f"/dev/example-gpu{n}", host_path=host, permissions="rw")
            c.annotations["example.com/gpu-devices"] = ",".join(r.devices_ids)
        return out

    async def PreStartContainer(
        self, request: dp.PreStartContainerRequest, context: Any
    ) -> dp.PreStartContainerResponse:
        return dp.PreStartContainerResponse()


async def register(plugin_dir: Path, resource: str) -> None:
    async with grpc.aio.insecure_channel(f"unix://{plugin_dir / 'kubelet.sock'}") as channel:
        stub = dp_grpc.RegistrationStub(channel)  # type: ignore[no-untyped-call]
        options = dp.DevicePluginOptions(get_preferred_allocation_available=True)
        await stub.Register(
            dp.RegisterRequest(version="v1beta1", endpoint=SOCKET, resource_name=resource, options=options), timeout=5
        )


def _identity(path: Path) -> tuple[int, int] | None:
    """Which kubelet.sock this is: a recreated socket may reuse the inode number, never its ctime."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_ctime_ns


async def run(args: argparse.Namespace) -> None:
    plugin_dir, state_dir = Path(args.plugin_dir), Path(args.state_dir or args.plugin_dir) / "example-gpu"
    state_dir.mkdir(parents=True, exist_ok=True)
    count = args.devices if args.devices >= 0 else int(os.environ.get("EXAMPLE_GPU_DEVICES", "1"))
    server = grpc.aio.server()
    dp_grpc.add_DevicePluginServicer_to_server(FakeGpuPlugin(count, state_dir, args.resource), server)  # type: ignore[no-untyped-call]
    socket = plugin_dir / SOCKET
    with contextlib.suppress(FileNotFoundError):
        socket.unlink()
    server.add_insecure_port(f"unix://{socket}")
    await server.start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    registered_with: tuple[int, int] | None = None
    while not stop.is_set():
        kubelet = _identity(plugin_dir / "kubelet.sock")
        if kubelet is not None and kubelet != registered_with:
            try:
                await register(plugin_dir, args.resource)
                registered_with = kubelet
                print(f"registered {args.resource} ({count} devices) with the kubelet", flush=True)
            except grpc.aio.AioRpcError as exc:
                print(f"registration failed: {exc.details()}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    await server.stop(0)
    with contextlib.suppress(FileNotFoundError):
        socket.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin-dir", required=True, help="the kubelet's device-plugins directory")
    parser.add_argument(
        "--devices", type=int, default=-1, help="number of fake devices (default: $EXAMPLE_GPU_DEVICES)"
    )
    parser.add_argument("--state-dir", default="", help="where the fake device nodes and the health file live")
    parser.add_argument("--resource", default="example.com/gpu")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
