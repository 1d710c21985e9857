"""Records -> CRI messages. Pure functions, no I/O."""

from __future__ import annotations

import signal
from collections.abc import Mapping

from skiff.cri.runtime.v1 import api_pb2 as cri

from skiff_runtime.containers.manager import decode_config as container_config
from skiff_runtime.images.store import ImageRecord
from skiff_runtime.sandbox.manager import decode_config as sandbox_config
from skiff_runtime.store.container import CREATED, EXITED, RUNNING, ContainerRecord
from skiff_runtime.store.sandbox import READY, SandboxRecord

_CONTAINER_STATE: dict[str, cri.ContainerState.ValueType] = {
    CREATED: cri.CONTAINER_CREATED,
    RUNNING: cri.CONTAINER_RUNNING,
    EXITED: cri.CONTAINER_EXITED,
}


def sandbox_state(record: SandboxRecord) -> cri.PodSandboxState.ValueType:
    return cri.SANDBOX_READY if record.state == READY else cri.SANDBOX_NOTREADY


def pod_sandbox(record: SandboxRecord) -> cri.PodSandbox:
    config = sandbox_config(record)
    return cri.PodSandbox(
        id=record.id,
        metadata=config.metadata,
        state=sandbox_state(record),
        created_at=record.created_at,
        labels=config.labels,
        annotations=config.annotations,
        runtime_handler=record.runtime_handler,
    )


def pod_sandbox_status(record: SandboxRecord) -> cri.PodSandboxStatus:
    config = sandbox_config(record)
    opts = config.linux.security_context.namespace_options
    network = cri.PodSandboxNetworkStatus(
        ip=record.ip, additional_ips=[cri.PodIP(ip=ip) for ip in record.additional_ips]
    )
    linux = cri.LinuxPodSandboxStatus(
        namespaces=cri.Namespace(
            options=cri.NamespaceOption(network=opts.network, pid=opts.pid, ipc=opts.ipc, target_id=opts.target_id)
        )
    )
    return cri.PodSandboxStatus(
        id=record.id,
        metadata=config.metadata,
        state=sandbox_state(record),
        created_at=record.created_at,
        network=network,
        linux=linux,
        labels=config.labels,
        annotations=config.annotations,
        runtime_handler=record.runtime_handler,
    )


def container_state(record: ContainerRecord) -> cri.ContainerState.ValueType:
    return _CONTAINER_STATE.get(record.state, cri.CONTAINER_UNKNOWN)


def container(record: ContainerRecord) -> cri.Container:
    config = container_config(record)
    return cri.Container(
        id=record.id,
        pod_sandbox_id=record.sandbox_id,
        metadata=config.metadata,
        image=cri.ImageSpec(image=record.user_image),
        image_ref=record.image_ref,
        state=container_state(record),
        created_at=record.created_at,
        labels=config.labels,
        annotations=config.annotations,
        image_id=record.image_id,
    )


def container_status(record: ContainerRecord) -> cri.ContainerStatus:
    config = container_config(record)
    user = cri.ContainerUser(
        linux=cri.LinuxContainerUser(uid=record.uid, gid=record.gid, supplemental_groups=record.additional_gids or [])
    )
    return cri.ContainerStatus(
        id=record.id,
        metadata=config.metadata,
        state=container_state(record),
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        exit_code=record.exit_code,
        image=cri.ImageSpec(image=record.user_image),
        image_ref=record.image_ref,
        reason=record.reason,
        message=record.message,
        labels=config.labels,
        annotations=config.annotations,
        mounts=config.mounts,
        log_path=record.log_path,
        resources=cri.ContainerResources(linux=config.linux.resources),
        image_id=record.image_id,
        user=user,
        stop_signal=_signal_enum(record.stop_signal),
    )


def _signal_enum(number: int) -> cri.Signal.ValueType:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return cri.RUNTIME_DEFAULT
    return cri.Signal.Value(name) if name in cri.Signal.keys() else cri.RUNTIME_DEFAULT


def image(record: ImageRecord) -> cri.Image:
    msg = cri.Image(
        id=record.id,
        repo_tags=record.repo_tags,
        repo_digests=record.repo_digests,
        size=record.size,
        spec=cri.ImageSpec(image=record.id),
        pinned=record.pinned,
    )
    user = record.config.user.split(":", 1)[0]
    if user.isdigit():
        msg.uid.value = int(user)
    elif user:
        msg.username = user
    return msg


def labels_match(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    """CRI label selectors are match-labels only: every selector pair must be present."""
    return all(labels.get(k) == v for k, v in selector.items())
