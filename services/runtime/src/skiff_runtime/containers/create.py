"""CreateContainer as one transaction: rootfs mount, config.json, executor create, record.

Each step is undone, in reverse, if a later one fails: a failed create leaves no overlay mount, bundle
directory, executor state, cgroup or record. The record is written last, so a crash in the middle leaves
a bundle directory without a record, which `ContainerManager.recover` collects on the next start.

It takes exactly what it uses (the request as a `NewContainer`, the executor, the snapshotter and the
container store), not the manager it is called from.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import signal
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import FieldError, Invalid
from skiff_common.observability import get_logger

from skiff_runtime.containers.errors import executor_errors
from skiff_runtime.containers.status import ns
from skiff_runtime.images.idmapped import IdMap
from skiff_runtime.images.snapshots import Snapshotter
from skiff_runtime.images.store import ImageRecord
from skiff_runtime.oci.executor import Executor, Status
from skiff_runtime.sandbox import cgroups, files
from skiff_runtime.spec import builder
from skiff_runtime.store.base import RecordStore
from skiff_runtime.store.container import CREATED, ContainerRecord
from skiff_runtime.store.sandbox import SandboxRecord

log = get_logger(__name__)


@dataclass(frozen=True)
class NewContainer:
    """One CreateContainer request, checked and named by the manager, with the folders it uses."""

    container_id: str
    name: str
    sandbox: SandboxRecord
    config: cri.ContainerConfig
    sandbox_config: cri.PodSandboxConfig
    image: ImageRecord
    container_dir: Path  # <state>/containers/<id>: the bundle, removed whole if the create fails
    pod_dir: Path  # the sandbox's folder: the per-pod /etc files bind-mounted into the container


async def create_container(
    new: NewContainer,
    *,
    executor: Executor,
    snapshots: Snapshotter,
    store: RecordStore[ContainerRecord],
) -> ContainerRecord:
    container_id, config, sandbox, image = new.container_id, new.config, new.sandbox, new.image
    bundle = new.container_dir / "bundle"
    rootfs = bundle / "rootfs"
    cgroups_path = f"{sandbox.cgroup_parent}/{container_id}"
    log_dir = new.sandbox_config.log_directory or _sandbox_log_dir(sandbox)
    log_path = Path(log_dir) / config.log_path if (log_dir and config.log_path) else None
    created_in_executor = False
    try:
        await asyncio.to_thread(snapshots.mount_rootfs, container_id, image.chain_ids, rootfs, _idmap(sandbox))
        pid_target = await target_pid(config, executor=executor, store=store)
        built = builder.build(
            builder.SpecInputs(
                container_id=container_id,
                config=config,
                image=image.config,
                sandbox=sandbox,
                rootfs=rootfs,
                pod_files=files.pod_files(new.pod_dir),
                cgroups_path=cgroups_path,
                unified_cgroups=cgroups.is_unified(),
                target_pid=pid_target,
            )
        )
        (bundle / "config.json").write_text(json.dumps(built.spec, indent=2))
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
        with executor_errors("create container"):
            state = await executor.create(container_id, bundle, log_path=log_path)
            created_in_executor = True
        record = ContainerRecord(
            id=container_id,
            sandbox_id=sandbox.id,
            name=new.name,
            config=base64.b64encode(config.SerializeToString()).decode(),
            image_id=image.id,
            image_ref=image.repo_digests[0] if image.repo_digests else image.id,
            user_image=config.image.image,
            state=CREATED,
            created_at=ns(state.created_at) or time.time_ns(),
            bundle=str(bundle),
            rootfs=str(rootfs),
            cgroups_path=cgroups_path,
            log_path=str(log_path) if log_path else "",
            stop_signal=built.stop_signal,
            pid=state.pid,
            uid=built.user.uid,
            gid=built.user.gid,
            additional_gids=built.user.additional_gids,
        )
        store.put(record)
    except BaseException:
        if created_in_executor:
            with suppress(Exception):
                await executor.kill(container_id, signal.SIGKILL)
                await executor.wait(container_id)
            with suppress(Exception):
                await executor.delete(container_id)
        await asyncio.to_thread(snapshots.release_rootfs, container_id, rootfs)
        shutil.rmtree(new.container_dir, ignore_errors=True)
        raise
    log.info("container created", container_id=container_id, name=new.name, sandbox_id=sandbox.id, image=image.id)
    return record


async def target_pid(config: cri.ContainerConfig, *, executor: Executor, store: RecordStore[ContainerRecord]) -> int:
    """PID of the container whose PID namespace a TARGET-mode container joins (0 if none)."""
    opts = config.linux.security_context.namespace_options
    if opts.pid != cri.TARGET:
        return 0
    target = store.find(opts.target_id)
    if target is None:
        raise Invalid(
            "container config is invalid",
            [
                FieldError(
                    "config.linux.security_context.namespace_options.target_id",
                    "Not found",
                    opts.target_id,
                )
            ],
        )
    with executor_errors("find target container"):
        state = await executor.state(target.id)
    return state.pid if state.status is Status.RUNNING else 0


def _idmap(sandbox: SandboxRecord) -> IdMap | None:
    """The pod's user namespace, through which the rootfs lowers are idmapped (None: the host's)."""
    if not sandbox.userns_path:
        return None
    return IdMap(sandbox.userns_path, sandbox.uid_maps[0][1], sandbox.gid_maps[0][1])


def _sandbox_log_dir(sandbox: SandboxRecord) -> str:
    config = cri.PodSandboxConfig.FromString(base64.b64decode(sandbox.config))
    return config.log_directory
