"""The runtime's object graph: stores, image service, network, sandbox and container managers, executor.

Built once from RuntimeConfig; the gRPC front end receives it and calls into it. Tests build it with temp
directories and a unique bridge/CIDR, which is why every path and name comes from the config.

The streaming server (CRI Exec/Attach/PortForward URLs) is built here too; it opens its port on the
first streaming request, and ``stop()`` closes it with every live session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from skiff_runtime.config import RuntimeConfig
from skiff_runtime.containers.manager import ContainerManager
from skiff_runtime.images.blobs import BlobStore
from skiff_runtime.images.importer import Importer
from skiff_runtime.images.snapshots import Snapshotter
from skiff_runtime.images.store import ImageStore
from skiff_runtime.network.manager import NetworkManager, NetworkSettings
from skiff_runtime.oci.executor import Executor, new_executor
from skiff_runtime.sandbox.manager import SandboxManager
from skiff_runtime.store.base import RecordStore
from skiff_runtime.store.container import RUNNING, ContainerRecord
from skiff_runtime.store.sandbox import SandboxRecord
from skiff_runtime.streaming.server import DEFAULT_ADDRESS, StreamingServer


@dataclass
class StatsSample:
    cpu_ns: int
    at_ns: int


@dataclass
class Runtime:
    config: RuntimeConfig
    blobs: BlobStore
    snapshots: Snapshotter
    images: ImageStore
    importer: Importer
    network: NetworkManager
    executor: Executor
    containers: ContainerManager
    sandboxes: SandboxManager
    streaming: StreamingServer
    cpu_samples: dict[str, StatsSample] = field(default_factory=dict)

    @classmethod
    def open_images(cls, config: RuntimeConfig) -> tuple[BlobStore, Snapshotter, ImageStore, Importer]:
        root = Path(config.state_root)
        blobs, snapshots, images = BlobStore(root / "content"), Snapshotter(root), ImageStore(root)
        return blobs, snapshots, images, Importer(blobs, snapshots, images)

    @classmethod
    def build(
        cls,
        config: RuntimeConfig,
        executor: Executor | None = None,
        *,
        streaming_address: str = DEFAULT_ADDRESS,
    ) -> Runtime:
        root, run = Path(config.state_root), Path(config.run_root)
        blobs, snapshots, images, importer = cls.open_images(config)
        oci_root = Path(config.executor_state_root or run / "oci")
        if executor is None:
            executor = new_executor(config.executor, state_root=oci_root)
        network = NetworkManager(
            NetworkSettings(
                conf_dir=Path(config.cni_conf_dir) if config.cni_conf_dir else None,
                bin_dirs=[Path(d) for d in config.cni_bin_dirs],
                bridge=config.bridge,
                pod_cidr=config.pod_cidr,
                ip_masq=config.ip_masq,
            ),
            root,
        )
        sandbox_store = RecordStore(root / "sandboxes.d", "pod sandbox", SandboxRecord.from_json, lambda r: r.id)
        container_store = RecordStore(root / "containers.d", "container", ContainerRecord.from_json, lambda r: r.id)
        containers = ContainerManager(
            state_root=root,
            store=container_store,
            sandboxes=sandbox_store,
            images=images,
            snapshots=snapshots,
            executor=executor,
        )
        sandboxes = SandboxManager(
            state_root=root, run_root=run, store=sandbox_store, network=network, containers=containers
        )

        async def is_running(container_id: str) -> bool:
            record = containers.store.find(container_id)
            return record is not None and (await containers.refresh(record)).state == RUNNING

        streaming = StreamingServer(
            # executors share the shim's state layout under their state root (oci/executor/api.py: list_ids)
            oci_state_root=Path(getattr(executor, "state_root", oci_root)),
            is_running=is_running,
            address=streaming_address,
        )
        return cls(
            config=config,
            blobs=blobs,
            snapshots=snapshots,
            images=images,
            importer=importer,
            network=network,
            executor=executor,
            containers=containers,
            sandboxes=sandboxes,
            streaming=streaming,
        )

    async def start(self) -> None:
        """Reconcile with what a previous run left: containers first (they live inside sandboxes)."""
        await self.containers.recover()
        await self.sandboxes.recover()

    async def stop(self) -> None:
        """Close the streaming server (ending its sessions). Containers and sandboxes keep running."""
        await self.streaming.stop()

    def image_in_use(self, image_id: str) -> list[str]:
        return [c.id for c in self.containers.store.list() if c.image_id == image_id]
