"""Pod sandbox lifecycle: RunPodSandbox as one transaction, Stop and Remove as idempotent releases.

RunPodSandbox takes, in order: the record (state CREATING), the pod cgroup, the namespaces (net, uts, ipc
as the pod asks, owned by a pod user namespace when ``userns_options`` says POD: ``userns.py``), the pod
PID-namespace init (PID mode POD only), the pod /dev/shm, the CNI network, and the per-pod files. Each
step pushes its undo on a stack; any failure pops the stack, so a failed RunPodSandbox releases
everything it took (an IP, a mount, a cgroup, a process) and leaves no record.
StopPodSandbox kills the containers, runs CNI DEL (with the result ADD cached), unpins the namespaces and
stops the PID-namespace init, as containerd does; RemovePodSandbox also removes the containers, the pod
cgroup and the files. Both are safe to repeat.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import AlreadyExists, FieldError, InternalError, Invalid, Unavailable
from skiff_common.observability import get_logger

from skiff_runtime.network.cni import CNIError
from skiff_runtime.network.manager import NetworkManager
from skiff_runtime.sandbox import cgroups, files, namespaces, pidns, userns
from skiff_runtime.store.base import RecordStore
from skiff_runtime.store.container import ContainerRecord
from skiff_runtime.store.sandbox import CREATING, NOTREADY, READY, SandboxRecord

log = get_logger(__name__)
HANDLERS = ("", "skiff")
_HOSTNAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class PodContainers(Protocol):
    """What stopping and removing a sandbox needs of the container manager. A protocol rather than an
    import: the container manager uses this package's helpers (pod cgroup, pod files), so importing it
    back would close a circle between the two packages."""

    store: RecordStore[ContainerRecord]

    async def stop(self, container_id: str, grace: float) -> None: ...
    async def remove(self, container_id: str) -> None: ...


def decode_config(record: SandboxRecord) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig.FromString(base64.b64decode(record.config))


def _validate(config: cri.PodSandboxConfig, runtime_handler: str) -> None:
    errors = [
        FieldError(f"config.metadata.{f}", "Required value")
        for f in ("name", "namespace", "uid")
        if not getattr(config.metadata, f)
    ]
    if runtime_handler not in HANDLERS:
        errors.append(
            FieldError(
                "runtime_handler",
                "Unsupported value",
                f'{runtime_handler!r}; supported: "" (default), "skiff"',
            )
        )
    if config.hostname and not _HOSTNAME.match(config.hostname):
        errors.append(
            FieldError(
                "config.hostname",
                "Invalid value",
                "must be at most 63 lower-case alphanumerics or '-', starting and ending alphanumeric",
            )
        )
    for i, port in enumerate(config.port_mappings):
        if not 0 < port.container_port <= 65535:
            errors.append(FieldError(f"config.port_mappings[{i}].container_port", "Invalid value", "1-65535"))
        if not 0 <= port.host_port <= 65535:
            errors.append(FieldError(f"config.port_mappings[{i}].host_port", "Invalid value", "0-65535"))
    errors += userns.validate(config)
    if errors:
        raise Invalid("pod sandbox config is invalid", errors)


class SandboxManager:
    def __init__(
        self,
        *,
        state_root: Path,
        run_root: Path,
        store: RecordStore[SandboxRecord],
        network: NetworkManager,
        containers: PodContainers,
    ) -> None:
        self.state_dir = state_root / "sandboxes"
        self.run_root = run_root
        self.store = store
        self.network = network
        self.containers = containers
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, sandbox_id: str) -> asyncio.Lock:
        return self._locks.setdefault(sandbox_id, asyncio.Lock())

    def files_dir(self, sandbox_id: str) -> Path:
        return self.state_dir / sandbox_id

    def shm_dir(self, sandbox_id: str) -> Path:
        return self.run_root / "sandboxes" / sandbox_id / "shm"

    async def recover(self) -> None:
        """After a restart: finish half-created sandboxes, and mark pods whose namespaces vanished."""
        for record in self.store.list():
            if record.state == CREATING:
                log.warning("releasing sandbox left half-created by a previous run", sandbox_id=record.id)
                await self._release(record)
                record.state = NOTREADY
                self.store.put(record)
            elif record.state == READY and (
                (not record.host_network and not namespaces.is_pinned(record.netns_path))
                or (record.pause_pid and not pidns.alive(record.pause_pid, record.pause_start))
            ):
                record.state = NOTREADY
                self.store.put(record)

    async def run(self, config: cri.PodSandboxConfig, runtime_handler: str) -> str:
        _validate(config, runtime_handler)
        md = config.metadata
        name = f"{md.name}_{md.namespace}_{md.uid}_{md.attempt}"
        taken = next((s for s in self.store.list() if s.name == name), None)
        if taken is not None:
            raise AlreadyExists(f"pod sandbox name {name!r} is already reserved for {taken.id}")
        opts = config.linux.security_context.namespace_options
        host_network, host_ipc = opts.network == cri.NODE, opts.ipc == cri.NODE
        try:
            cgroup_parent = cgroups.normalize_parent(config.linux.cgroup_parent, md.uid)
        except ValueError as err:
            raise Invalid(
                "pod sandbox config is invalid",
                [FieldError("config.linux.cgroup_parent", "Unsupported value", str(err))],
            ) from None
        record = SandboxRecord(
            id=secrets.token_hex(32),
            name=name,
            config=base64.b64encode(config.SerializeToString()).decode(),
            runtime_handler=runtime_handler,
            state=CREATING,
            created_at=time.time_ns(),
            hostname=config.hostname or (socket.gethostname() if host_network else md.name[:63]),
            host_network=host_network,
            host_ipc=host_ipc,
            cgroup_parent=cgroup_parent,
            privileged=config.linux.security_context.privileged,
        )
        async with self.lock(record.id):
            self.store.put(record)
            undo: list[Callable[[], Awaitable[None]]] = []
            try:
                await self._setup(record, config, undo)
            except BaseException as err:
                for step in reversed(undo):
                    try:
                        await step()
                    except Exception:
                        log.exception("cleanup after failed RunPodSandbox", sandbox_id=record.id)
                self.store.delete(record.id)
                shutil.rmtree(self.files_dir(record.id), ignore_errors=True)
                if isinstance(err, CNIError):
                    raise Unavailable(f"setting up the pod network failed: {err}") from None
                if isinstance(err, (namespaces.NamespaceError, pidns.PidNamespaceError, OSError)):
                    raise InternalError(f"creating the pod sandbox failed: {err}") from None
                raise
        log.info("pod sandbox ready", sandbox_id=record.id, name=name, ip=record.ip)
        return record.id

    async def _setup(
        self, record: SandboxRecord, config: cri.PodSandboxConfig, undo: list[Callable[[], Awaitable[None]]]
    ) -> None:
        await asyncio.to_thread(cgroups.create, record.cgroup_parent)
        undo.append(lambda: asyncio.to_thread(cgroups.remove, record.cgroup_parent))
        kinds = ([] if record.host_network else ["net", "uts"]) + ([] if record.host_ipc else ["ipc"])
        id_maps = userns.id_maps(config)
        paths = await asyncio.to_thread(namespaces.create, self.run_root, record.id, kinds, record.hostname, id_maps)
        undo.append(lambda: asyncio.to_thread(namespaces.remove, paths.values()))
        if id_maps is not None:
            record.userns_path = str(paths["user"])
            record.uid_maps, record.gid_maps = id_maps
        record.netns_path = str(paths.get("net", ""))
        record.uts_path = str(paths.get("uts", ""))
        record.ipc_path = str(paths.get("ipc", ""))
        if config.linux.security_context.namespace_options.pid == cri.POD:
            pidfile = self.run_root / "sandboxes" / record.id / "pidns-init.pid"
            record.pause_pid, record.pause_start = await asyncio.to_thread(pidns.start, pidfile)
            undo.append(lambda: asyncio.to_thread(pidns.stop, record.pause_pid, record.pause_start))
            await asyncio.to_thread(cgroups.attach, record.cgroup_parent, record.pause_pid)
        if not record.host_ipc:
            shm = self.shm_dir(record.id)
            await asyncio.to_thread(namespaces.mount_shm, shm)
            undo.append(lambda: asyncio.to_thread(namespaces.unmount_shm, shm))
            record.shm_path = str(shm)
        self.store.put(record)  # from here a crash can be cleaned up from the record
        if not record.host_network:
            mappings = [
                {
                    "hostPort": p.host_port,
                    "containerPort": p.container_port,
                    "protocol": cri.Protocol.Name(p.protocol).lower(),
                    "hostIP": p.host_ip,
                }
                for p in config.port_mappings
                if p.host_port
            ]
            pod_net = await self.network.setup(
                record.id,
                record.netns_path,
                pod_name=config.metadata.name,
                pod_namespace=config.metadata.namespace,
                pod_uid=config.metadata.uid,
                port_mappings=mappings,
            )
            undo.append(lambda: self.network.teardown(record.id, record.netns_path))
            if pod_net.ips:
                record.ip, record.additional_ips = pod_net.ips[0], pod_net.ips[1:]
        dns = config.dns_config
        files.write_pod_files(
            self.files_dir(record.id),
            hostname=record.hostname,
            ip=record.ip,
            host_network=record.host_network,
            dns=(list(dns.servers), list(dns.searches), list(dns.options)),
        )
        record.state = READY
        self.store.put(record)

    async def _release(self, record: SandboxRecord) -> None:
        """Release the sandbox's runtime resources (network, namespaces, shm). Idempotent."""
        if record.netns_path:
            await self.network.teardown(record.id, record.netns_path)
        await asyncio.to_thread(
            namespaces.remove, [record.netns_path, record.uts_path, record.ipc_path, record.userns_path]
        )
        await asyncio.to_thread(pidns.stop, record.pause_pid, record.pause_start)
        await asyncio.to_thread(namespaces.unmount_shm, self.shm_dir(record.id))

    async def stop(self, sandbox_id: str) -> None:
        record = self.store.get(sandbox_id)
        async with self.lock(record.id):
            for container in self.containers.store.list():
                if container.sandbox_id == record.id:
                    await self.containers.stop(container.id, 0)
            try:
                await self._release(record)
            except CNIError as err:
                raise Unavailable(f"tearing down the pod network failed: {err}") from None
            if record.state != NOTREADY:
                record.state = NOTREADY
                self.store.put(record)
        log.info("pod sandbox stopped", sandbox_id=record.id)

    async def remove(self, sandbox_id: str) -> None:
        record = self.store.find(sandbox_id)
        if record is None:
            return  # idempotent
        await self.stop(record.id)
        async with self.lock(record.id):
            for container in self.containers.store.list():
                if container.sandbox_id == record.id:
                    await self.containers.remove(container.id)
            await asyncio.to_thread(cgroups.remove, record.cgroup_parent)
            shutil.rmtree(self.files_dir(record.id), ignore_errors=True)
            shutil.rmtree(self.run_root / "sandboxes" / record.id, ignore_errors=True)
            self.store.delete(record.id)
        self._locks.pop(record.id, None)
        log.info("pod sandbox removed", sandbox_id=record.id)
