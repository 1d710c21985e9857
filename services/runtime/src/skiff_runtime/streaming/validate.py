"""CRI Exec/Attach/PortForward requests checked up front, so a bad request is a clear gRPC error now
rather than a broken stream later. The rules follow the kubelet's streaming server (one of
stdin/stdout/stderr; not tty together with stderr) plus what our containers can do (no stdin, no tty).
"""

from __future__ import annotations

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import BadRequest, FailedPrecondition, FieldError, Invalid

from skiff_runtime.containers.manager import ContainerManager
from skiff_runtime.store.base import RecordStore
from skiff_runtime.store.container import RUNNING, ContainerRecord
from skiff_runtime.store.sandbox import READY, SandboxRecord
from skiff_runtime.streaming.attach import AttachTarget
from skiff_runtime.streaming.exec import ExecTarget
from skiff_runtime.streaming.portforward import PortForwardTarget


async def _running(containers: ContainerManager, container_id: str) -> ContainerRecord:
    if not container_id:
        raise BadRequest("container_id: Required value")
    record = await containers.get(container_id)  # NotFound names the container
    if record.state != RUNNING:
        raise FailedPrecondition(f"container {record.id} is {record.state}, not running")
    return record


async def exec_target(containers: ContainerManager, request: cri.ExecRequest) -> ExecTarget:
    if not request.cmd:
        raise BadRequest("cmd: Required value: the command to run")
    if not (request.stdin or request.stdout or request.stderr):
        raise BadRequest("stdin, stdout, stderr: Required value: at least one of them must be true")
    if request.tty and request.stderr:
        raise BadRequest("stderr: Invalid value: true: tty and stderr cannot both be true")
    record = await _running(containers, request.container_id)
    return ExecTarget(
        container_id=record.id,
        argv=list(request.cmd),
        tty=request.tty,
        stdin=request.stdin,
        stdout=request.stdout,
        stderr=request.stderr,
    )


async def attach_target(containers: ContainerManager, request: cri.AttachRequest) -> AttachTarget:
    if request.stdin:
        raise BadRequest(
            "stdin: Unsupported value: true: containers are created without stdin, "
            "so attach can only stream stdout and stderr"
        )
    if request.tty:
        raise BadRequest("tty: Unsupported value: true: containers are created without a tty")
    if not (request.stdout or request.stderr):
        raise BadRequest("stdout, stderr: Required value: at least one of them must be true")
    record = await _running(containers, request.container_id)
    if not record.log_path:
        raise FailedPrecondition(
            f"container {record.id} has no log path (CreateContainer without log_directory/log_path), "
            "and attach streams the container log"
        )
    return AttachTarget(container_id=record.id, log_path=record.log_path, stdout=request.stdout, stderr=request.stderr)


def port_forward_target(sandboxes: RecordStore[SandboxRecord], request: cri.PortForwardRequest) -> PortForwardTarget:
    if not request.pod_sandbox_id:
        raise BadRequest("pod_sandbox_id: Required value")
    bad = [
        FieldError(f"port[{i}]", "Invalid value", f"{port}: must be between 1 and 65535")
        for i, port in enumerate(request.port)
        if not 0 < port < 65536
    ]
    if bad:
        raise Invalid("port-forward request is invalid", bad)
    sandbox = sandboxes.get(request.pod_sandbox_id)
    if sandbox.state != READY:
        raise FailedPrecondition(f"pod sandbox {sandbox.id} is {sandbox.state}, not ready")
    netns = "" if sandbox.host_network else sandbox.netns_path
    return PortForwardTarget(sandbox_id=sandbox.id, netns_path=netns, ports=list(request.port))
