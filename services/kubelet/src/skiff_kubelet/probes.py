"""Liveness and readiness probes: exec (CRI ExecSync), tcpSocket and httpGet (against the pod IP).

One asyncio task per (container id, probe kind) runs the probe every ``periodSeconds`` after
``initialDelaySeconds`` and keeps a result that flips only after ``successThreshold`` /
``failureThreshold`` consecutive outcomes, as in Kubernetes. A flip calls ``on_change`` (which enqueues
the pod), so the pod worker stays the only writer: readiness feeds ContainerStatus.ready, a liveness
failure makes the worker stop the container and restartPolicy decides the rest. Tasks are keyed by
container id, so a restarted container starts with fresh probes (and readiness False), and ``sync_pod``
stops the tasks of containers that are gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import CriClient
from skiff_client.cri import call
from skiff_common.observability import get_logger

log = get_logger(__name__)

READINESS, LIVENESS = "readiness", "liveness"


@dataclass
class _Worker:
    task: asyncio.Task[None]
    result: bool  # readiness starts False, liveness starts True (innocent until proven guilty)
    pod_key: str


def _port(value: meta_pb2.IntOrString, container: container_pb2.Container) -> int:
    if value.HasField("int_val"):
        return int(value.int_val)
    name = value.str_val
    for p in container.ports:
        if p.name == name:
            return p.container_port
    raise ValueError(f"probe port {name!r} is not a named port of the container")


async def run_probe(
    cri_client: CriClient,
    probe: container_pb2.Probe,
    container: container_pb2.Container,
    container_id: str,
    pod_ip: str,
) -> bool:
    timeout = probe.timeout_seconds or 1
    try:
        if probe.HasField("exec"):
            resp = await call(
                cri_client.runtime.ExecSync(
                    cri.ExecSyncRequest(container_id=container_id, cmd=list(probe.exec.command), timeout=timeout)
                )
            )
            return bool(resp.exit_code == 0)
        if probe.HasField("tcp_socket"):
            host = probe.tcp_socket.host or pod_ip
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, _port(probe.tcp_socket.port, container)), timeout
            )
            writer.close()
            return True
        if probe.HasField("http_get"):
            return await _http_get(probe.http_get, container, pod_ip, timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        log.debug("probe.failed", container_id=container_id, error=str(exc))
        return False
    except Exception as exc:  # CRI errors (container gone) count as failures, never crash the worker
        log.debug("probe.error", container_id=container_id, error=str(exc))
        return False
    return True  # no handler: nothing to check


async def _http_get(
    action: container_pb2.HTTPGetAction, container: container_pb2.Container, pod_ip: str, limit: float
) -> bool:
    """A minimal HTTP/1.0 GET (no TLS): 200 <= status < 400 is success, like the kubelet."""
    host = action.host or pod_ip
    port = _port(action.port, container)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), limit)
    try:
        headers = "".join(f"{h.name}: {h.value}\r\n" for h in action.http_headers)
        writer.write(f"GET {action.path or '/'} HTTP/1.0\r\nHost: {host}:{port}\r\n{headers}\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), limit)
    finally:
        writer.close()
    parts = status_line.split()
    return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400


class ProbeManager:
    def __init__(self, cri_client: CriClient, on_change: Callable[[str], None]) -> None:
        self.cri = cri_client
        self.on_change = on_change
        self._workers: dict[tuple[str, str], _Worker] = {}

    def ready(self, container_id: str, has_readiness_probe: bool) -> bool:
        if not has_readiness_probe:
            return True
        w = self._workers.get((container_id, READINESS))
        return w.result if w is not None else False

    def live(self, container_id: str) -> bool:
        w = self._workers.get((container_id, LIVENESS))
        return w.result if w is not None else True

    def sync_pod(self, pod: pod_pb2.Pod, running: dict[str, str], pod_ip: str, pod_key: str) -> None:
        """``running``: container name -> id of its running instance. Starts/stops probe tasks."""
        wanted: set[tuple[str, str]] = set()
        for c in pod.spec.containers:
            cid = running.get(c.name)
            if cid is None:
                continue
            probes = (
                (READINESS, c.readiness_probe, c.HasField("readiness_probe")),
                (LIVENESS, c.liveness_probe, c.HasField("liveness_probe")),
            )
            for kind, probe, present in probes:
                if not present:
                    continue
                wanted.add((cid, kind))
                if (cid, kind) not in self._workers:
                    task = asyncio.create_task(
                        self._loop(cid, kind, probe, c, pod_ip, pod_key), name=f"probe-{kind}-{cid[:12]}"
                    )
                    self._workers[(cid, kind)] = _Worker(task, kind == LIVENESS, pod_key)
        for key in [k for k, w in self._workers.items() if w.pod_key == pod_key and k not in wanted]:
            self._workers.pop(key).task.cancel()

    def forget_pod(self, pod_key: str) -> None:
        for key in [k for k, w in self._workers.items() if w.pod_key == pod_key]:
            self._workers.pop(key).task.cancel()

    async def stop(self) -> None:
        tasks = [w.task for w in self._workers.values()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()

    async def _loop(
        self,
        cid: str,
        kind: str,
        probe: container_pb2.Probe,
        c: container_pb2.Container,
        pod_ip: str,
        pod_key: str,
    ) -> None:
        period = probe.period_seconds or 10
        success_needed = probe.success_threshold or 1
        failure_needed = probe.failure_threshold or 3
        await asyncio.sleep(probe.initial_delay_seconds)
        streak_ok = streak_bad = 0
        while True:
            ok = await run_probe(self.cri, probe, c, cid, pod_ip)
            streak_ok, streak_bad = (streak_ok + 1, 0) if ok else (0, streak_bad + 1)
            worker = self._workers.get((cid, kind))
            if worker is None:
                return
            new = worker.result
            if ok and streak_ok >= success_needed:
                new = True
            elif not ok and streak_bad >= failure_needed:
                new = False
            if new != worker.result:
                worker.result = new
                log.info("probe.changed", kind=kind, container=c.name, pod=pod_key, result=new)
                self.on_change(pod_key)
            await asyncio.sleep(period)
