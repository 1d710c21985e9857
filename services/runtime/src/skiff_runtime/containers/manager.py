"""Container lifecycle on top of the image snapshots, the spec builder and the OCI executor.

CreateContainer is one transaction: mount the overlay rootfs, build and write config.json, have the
executor create the process (blocked before exec), record it. Any failure undoes the earlier steps in
reverse, so a failed create leaves no mount, bundle, cgroup or record. RemoveContainer is the same in the
other direction and is idempotent; it first marks the record `removing` so a crash half-way is finished by
the next call. The executor stays the source of truth for a live process (see `refresh`).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import shutil
import signal
from contextlib import suppress
from pathlib import Path

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import (
    AlreadyExists,
    BadRequest,
    FailedPrecondition,
    FieldError,
    InternalError,
    Invalid,
    NotFound,
)
from skiff_common.observability import get_logger

from skiff_runtime.containers import resources as container_resources
from skiff_runtime.containers.create import NewContainer, create_container
from skiff_runtime.containers.errors import executor_errors
from skiff_runtime.containers.status import apply_state
from skiff_runtime.images.reference import ReferenceError
from skiff_runtime.images.snapshots import Snapshotter
from skiff_runtime.images.store import ImageRecord, ImageStore
from skiff_runtime.oci.errors import ContainerNotFound
from skiff_runtime.oci.executor import ContainerState, Executor
from skiff_runtime.store.base import RecordStore
from skiff_runtime.store.container import CREATED, RUNNING, UNKNOWN, ContainerRecord
from skiff_runtime.store.sandbox import READY, SandboxRecord

log = get_logger(__name__)
EXEC_OUTPUT_CAP = 16 * 1024 * 1024


def decode_config(record: ContainerRecord) -> cri.ContainerConfig:
    return cri.ContainerConfig.FromString(base64.b64decode(record.config))


class ContainerManager:
    def __init__(
        self,
        *,
        state_root: Path,
        store: RecordStore[ContainerRecord],
        sandboxes: RecordStore[SandboxRecord],
        images: ImageStore,
        snapshots: Snapshotter,
        executor: Executor,
    ) -> None:
        self.root = state_root / "containers"
        self.root.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.sandboxes = sandboxes
        self.images = images
        self.snapshots = snapshots
        self.executor = executor
        self._locks: dict[str, asyncio.Lock] = {}
        self._creating: set[str] = set()  # names reserved by creates in flight (the record comes last)

    def lock(self, container_id: str) -> asyncio.Lock:
        return self._locks.setdefault(container_id, asyncio.Lock())

    def resolve_image(self, text: str, field: str) -> ImageRecord:
        if not text:
            raise Invalid("container config is invalid", [FieldError(field, "Required value")])
        try:
            image = self.images.resolve(text)
        except ReferenceError as err:
            raise Invalid("container config is invalid", [FieldError(field, "Invalid value", str(err))]) from None
        if image is None:
            raise NotFound(f"image {text!r} not found: import it (skiff-runtime import) or pull it first")
        return image

    # -- create -----------------------------------------------------------------------------------

    async def create(self, sandbox_id: str, config: cri.ContainerConfig, sandbox_config: cri.PodSandboxConfig) -> str:
        if not sandbox_id:
            raise BadRequest("pod_sandbox_id: Required value")
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox.state != READY:
            raise FailedPrecondition(f"pod sandbox {sandbox.id} is {sandbox.state}, not ready")
        if not config.metadata.name:
            raise Invalid("container config is invalid", [FieldError("config.metadata.name", "Required value")])
        image = self.resolve_image(config.image.image, "config.image.image")
        name = f"{config.metadata.name}_{sandbox.name}_{config.metadata.attempt}"
        taken = next((c for c in self.store.list() if c.name == name), None)
        if taken is not None or name in self._creating:
            owner = taken.id if taken else "a create in progress"
            raise AlreadyExists(f"container name {name!r} is already in use by {owner}")
        container_id = secrets.token_hex(32)
        self._creating.add(name)
        try:
            async with self.lock(container_id):
                new = NewContainer(
                    container_id=container_id,
                    name=name,
                    sandbox=sandbox,
                    config=config,
                    sandbox_config=sandbox_config,
                    image=image,
                    container_dir=self.root / container_id,
                    pod_dir=self.sandboxes_dir(sandbox.id),
                )
                record = await create_container(new, executor=self.executor, snapshots=self.snapshots, store=self.store)
                return record.id
        finally:
            self._creating.discard(name)

    def sandboxes_dir(self, sandbox_id: str) -> Path:
        return self.root.parent / "sandboxes" / sandbox_id

    # -- state ------------------------------------------------------------------------------------

    async def recover(self) -> None:
        """After a restart: finish interrupted removals, and collect containers whose create crashed
        after the bundle was made but before the record was written (bundle dir without a record)."""
        for record in self.store.list():
            if record.removing:
                await self.remove(record.id)
        known = {r.id for r in self.store.list()}
        for bundle_dir in self.root.iterdir():
            if bundle_dir.name in known:
                continue
            log.warning("collecting a container left behind by a crashed create", container_id=bundle_dir.name)
            with suppress(Exception):
                await self.executor.kill(bundle_dir.name, signal.SIGKILL)
                await self.executor.wait(bundle_dir.name)
            with suppress(Exception):
                await self.executor.delete(bundle_dir.name)
            rootfs = bundle_dir / "bundle" / "rootfs"
            await asyncio.to_thread(self.snapshots.release_rootfs, bundle_dir.name, rootfs)
            shutil.rmtree(bundle_dir, ignore_errors=True)

    async def refresh(self, record: ContainerRecord) -> ContainerRecord:
        """Bring the record up to date with the executor (no-op for final states)."""
        if record.state not in (CREATED, RUNNING) or record.removing:
            return record
        try:
            state = await self.executor.state(record.id)
        except ContainerNotFound:
            record.state, record.reason = UNKNOWN, "Unknown"
            record.message = "the container's process state is gone (node rebooted or state lost)"
            return self.store.put(record)
        return self._apply(record, state)

    def _apply(self, record: ContainerRecord, state: ContainerState) -> ContainerRecord:
        if apply_state(record, state):
            self.store.put(record)
        return record

    async def get(self, container_id: str) -> ContainerRecord:
        return await self.refresh(self.store.get(container_id))

    async def list_all(self) -> list[ContainerRecord]:
        return [await self.refresh(r) for r in self.store.list() if not r.removing]

    # -- start / stop / remove --------------------------------------------------------------------

    async def start(self, container_id: str) -> None:
        record = await self.get(container_id)
        async with self.lock(record.id):
            record = await self.refresh(record)
            if record.state != CREATED:
                raise FailedPrecondition(f"container {record.id} is {record.state}, not created")
            sandbox = self.sandboxes.find(record.sandbox_id)
            if sandbox is None or sandbox.state != READY:
                raise FailedPrecondition(f"pod sandbox {record.sandbox_id} of container {record.id} is not ready")
            with executor_errors("start container"):
                await self.executor.start(record.id)
                self._apply(record, await self.executor.state(record.id))
        log.info("container started", container_id=record.id, pid=record.pid)

    async def stop(self, container_id: str, grace: float) -> None:
        record = await self.get(container_id)
        async with self.lock(record.id):
            await self._stop(record, grace)

    async def _stop(self, record: ContainerRecord, grace: float) -> None:
        record = await self.refresh(record)
        if record.state not in (CREATED, RUNNING):
            return  # idempotent: already exited (or unknown)
        with executor_errors("stop container"):
            if record.state == RUNNING and grace > 0:
                await self.executor.kill(record.id, record.stop_signal)
                try:
                    state = await asyncio.wait_for(self.executor.wait(record.id), grace)
                    self._apply(record, state)
                    return
                except TimeoutError:
                    log.info(
                        "container ignored its stop signal; killing",
                        container_id=record.id,
                        signal=record.stop_signal,
                        grace=grace,
                    )
            await self.executor.kill(record.id, signal.SIGKILL)
            self._apply(record, await self.executor.wait(record.id))
        log.info("container stopped", container_id=record.id, exit_code=record.exit_code)

    async def remove(self, container_id: str) -> None:
        record = self.store.find(container_id)
        if record is None:
            return  # idempotent
        async with self.lock(record.id):
            if not record.removing:
                await self._stop(record, 0)
                record.removing = True
                self.store.put(record)
            with executor_errors("remove container"), suppress(ContainerNotFound):
                await self.executor.delete(record.id)
            await asyncio.to_thread(self.snapshots.release_rootfs, record.id, Path(record.rootfs))
            shutil.rmtree(self.root / record.id, ignore_errors=True)
            self.store.delete(record.id)
        self._locks.pop(record.id, None)
        log.info("container removed", container_id=record.id)

    # -- exec, logs, resources --------------------------------------------------------------------

    async def exec_sync(self, container_id: str, cmd: list[str], limit: float) -> tuple[int, bytes, bytes]:
        record = await self.get(container_id)
        if record.state != RUNNING:
            raise FailedPrecondition(f"container {record.id} is {record.state}, not running")
        if not cmd:
            raise BadRequest("cmd: Required value")
        with executor_errors("exec in container"):
            code, out, err = await self.executor.exec_sync(record.id, cmd, timeout=limit or None)
        return code, out[:EXEC_OUTPUT_CAP], err[:EXEC_OUTPUT_CAP]

    async def update_resources(self, container_id: str, resources: cri.LinuxContainerResources) -> None:
        record = await self.get(container_id)
        async with self.lock(record.id):
            if record.state in (CREATED, RUNNING):
                try:
                    await asyncio.to_thread(container_resources.apply, record.cgroups_path, resources)
                except OSError as err:
                    raise InternalError(f"updating resources of container {record.id}: {err}") from None
            config = decode_config(record)
            config.linux.resources.CopyFrom(resources)
            record.config = base64.b64encode(config.SerializeToString()).decode()
            self.store.put(record)

    async def reopen_log(self, container_id: str) -> None:
        record = await self.get(container_id)
        if record.state != RUNNING:
            raise FailedPrecondition(f"container {record.id} is not running")
        with executor_errors("reopen container log"):
            await self.executor.reopen_log(record.id)
