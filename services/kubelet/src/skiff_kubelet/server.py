"""The Kubelet gRPC service: ContainerLogs, Exec, ExecStream (exec and attach) and PortForwardStream for
pods bound to this node.

Pods are looked up in the kubelet's own informer cache (only pods of this node are there, which is
also a boundary: a pod elsewhere is NotFound here), containers through a fresh CRI snapshot. Every
RPC first asks `authz.ApiAuthorizer` whether its caller may (`--authorization-mode`). Logs come from
the CRI log files, not through the runtime, exactly like the real kubelet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from skiff.api.core.v1 import pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff.kubelet.v1 import kubelet_pb2 as pb
from skiff.kubelet.v1 import kubelet_pb2_grpc as pb_grpc
from skiff_client import CriClient, Informer
from skiff_client.cri import call
from skiff_common import errors

from skiff_kubelet import cri_logs, exec_stream, port_forward
from skiff_kubelet.authz import ALWAYS_ALLOW, ApiAuthorizer
from skiff_kubelet.runtime_state import pod_runtime
from skiff_kubelet.sandbox import pod_log_directory


class KubeletService(pb_grpc.KubeletServicer):
    def __init__(
        self,
        pods: Informer[pod_pb2.Pod],
        cri_client: CriClient,
        pod_log_dir: str,
        authorizer: ApiAuthorizer | None = None,
    ) -> None:
        self.pods = pods
        self.cri = cri_client
        self.pod_log_dir = pod_log_dir
        self.authz = authorizer or ApiAuthorizer(ALWAYS_ALLOW, "")

    def _pod(self, namespace: str, name: str) -> pod_pb2.Pod:
        ns = namespace or "default"
        if not name:
            raise errors.BadRequest("pod: a pod name is required")
        pod = self.pods.store.get(f"{ns}/{name}")
        if pod is None:
            raise errors.NotFound(f'pods "{name}" not found in namespace "{ns}" on this node')
        return pod

    @staticmethod
    def _container_name(pod: pod_pb2.Pod, requested: str) -> str:
        names = [c.name for c in pod.spec.containers] + [c.name for c in pod.spec.init_containers]
        if requested:
            if requested not in names:
                raise errors.BadRequest(
                    f'container "{requested}" is not valid for pod "{pod.metadata.name}"; choose one of: {names}'
                )
            return requested
        if len(pod.spec.containers) != 1:
            raise errors.BadRequest(
                f'a container name must be specified for pod "{pod.metadata.name}", '
                f"choose one of: {[c.name for c in pod.spec.containers]}"
            )
        return pod.spec.containers[0].name

    async def _container(self, pod: pod_pb2.Pod, name: str, previous: bool = False) -> cri.ContainerStatus:
        rt = await pod_runtime(self.cri, pod.metadata.uid)
        st = rt.previous(name) if previous else rt.latest(name)
        if st is None:
            what = "previous terminated container" if previous else "container"
            raise errors.NotFound(
                f'{what} "{name}" in pod "{pod.metadata.name}" not found (it may be waiting to start)'
            )
        return st

    async def _running_container(self, namespace: str, pod_name: str, container: str) -> cri.ContainerStatus:
        pod = self._pod(namespace, pod_name)
        name = self._container_name(pod, container)
        st = await self._container(pod, name)
        if st.state != cri.CONTAINER_RUNNING:
            raise errors.FailedPrecondition(f'container "{name}" in pod "{pod.metadata.name}" is not running')
        return st

    def _log_path(self, pod: pod_pb2.Pod, st: cri.ContainerStatus) -> Path:
        if st.log_path and Path(st.log_path).is_absolute():
            return Path(st.log_path)
        rel = st.log_path or f"{st.metadata.name}/{st.metadata.attempt}.log"
        return Path(pod_log_directory(self.pod_log_dir, pod)) / rel

    async def ContainerLogs(
        self, request: pb.ContainerLogsRequest, context: Any
    ) -> AsyncIterator[pb.ContainerLogsResponse]:
        await self.authz.check(context, "ContainerLogs")
        if request.tail_lines < 0:
            raise errors.BadRequest("tail_lines: must be >= 0")
        pod = self._pod(request.namespace, request.pod)
        name = self._container_name(pod, request.container)
        st = await self._container(pod, name, request.previous)
        path = self._log_path(pod, st)
        lines, offset = cri_logs.read_all(path, int(request.tail_lines))

        def response(line: cri_logs.LogLine) -> pb.ContainerLogsResponse:
            return pb.ContainerLogsResponse(
                stream=line.stream, line=line.line, timestamp=line.timestamp if request.timestamps else ""
            )

        for line in lines:
            yield response(line)
        if not request.follow or request.previous:
            return

        async def running() -> bool:
            try:
                resp = await call(self.cri.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=st.id)))
            except errors.NotFound:
                return False
            return resp.status.state in (cri.CONTAINER_RUNNING, cri.CONTAINER_CREATED)

        async for line in cri_logs.follow(path, offset, running):
            yield response(line)

    async def Exec(self, request: pb.ExecRequest, context: Any) -> pb.ExecResponse:
        await self.authz.check(context, "Exec")
        if not request.command:
            raise errors.BadRequest("command: at least one argument is required")
        if request.timeout_seconds < 0:
            raise errors.BadRequest("timeout_seconds: must be >= 0")
        st = await self._running_container(request.namespace, request.pod, request.container)
        resp = await call(
            self.cri.runtime.ExecSync(
                cri.ExecSyncRequest(container_id=st.id, cmd=list(request.command), timeout=request.timeout_seconds)
            )
        )
        return pb.ExecResponse(exit_code=resp.exit_code, stdout=resp.stdout, stderr=resp.stderr)

    async def ExecStream(
        self, requests: AsyncIterator[pb.ExecStreamRequest], context: Any
    ) -> AsyncIterator[pb.ExecStreamResponse]:
        await self.authz.check(context, "ExecStream")
        first = await anext(aiter(requests), None)
        if first is None or first.WhichOneof("input") != "start":
            raise errors.BadRequest("start: the first request must start the command")
        start = first.start
        if not start.command and not start.attach:
            raise errors.BadRequest("start.command: at least one argument is required")
        st = await self._running_container(start.namespace, start.pod, start.container)
        if start.attach:  # the running process: the runtime's attach speaks the same channels
            attached = await call(
                self.cri.runtime.Attach(
                    cri.AttachRequest(container_id=st.id, stdin=start.stdin, tty=start.tty, stdout=True, stderr=True)
                )
            )
            async for response in exec_stream.relay(attached.url, start, requests):
                yield response
            return
        resp = await call(
            self.cri.runtime.Exec(
                cri.ExecRequest(
                    container_id=st.id,
                    cmd=list(start.command),
                    tty=start.tty,
                    stdin=start.stdin,
                    stdout=True,
                    stderr=not start.tty,  # a terminal merges both streams
                )
            )
        )
        async for response in exec_stream.relay(resp.url, start, requests):
            yield response

    async def PortForwardStream(
        self, requests: AsyncIterator[pb.PortForwardStreamRequest], context: Any
    ) -> AsyncIterator[pb.PortForwardStreamResponse]:
        await self.authz.check(context, "PortForwardStream")
        first = await anext(aiter(requests), None)
        if first is None or first.WhichOneof("input") != "start":
            raise errors.BadRequest("start: the first request must name the pod and port")
        start = first.start
        if not 0 < start.port < 65536:
            raise errors.BadRequest(f"start.port: Invalid value {start.port}: must be between 1 and 65535")
        pod = self._pod(start.namespace, start.pod)
        sandbox = (await pod_runtime(self.cri, pod.metadata.uid)).sandbox_id
        if not sandbox:
            raise errors.FailedPrecondition(f'pod "{pod.metadata.name}" has no running sandbox')
        resp = await call(
            self.cri.runtime.PortForward(cri.PortForwardRequest(pod_sandbox_id=sandbox, port=[start.port]))
        )
        async for response in port_forward.relay(resp.url, requests):
            yield response
