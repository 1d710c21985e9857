"""Walking skeleton, end to end on real parts: etcd + apiserver + scheduler + kubelet in-process, the
real skiff-runtime as a process. A node registers and is Ready, a pod is scheduled, run, reports
Running with its podIP, serves logs and exec, and deletion removes it everywhere."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from runtime_fixture import cgroup_hierarchies
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff.kubelet.v1 import kubelet_pb2 as kpb
from skiff.kubelet.v1 import kubelet_pb2_grpc
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually, gone
from skiff_common import errors
from skiff_kubelet import labels as L
from skiff_kubelet import tmpfs
from skiff_kubelet.app import Kubelet
from skiff_kubelet.config import KubeletConfig

pytestmark = [pytest.mark.root, pytest.mark.etcd]


def kubelet_config(apiserver: Any, runtime: Any, tmp_path: Path, **overrides: str) -> KubeletConfig:
    """A kubelet on a fresh node name, wired to the test apiserver and runtime, with quick loops."""
    settings: dict[str, str] = {
        "node_name": f"node-{uuid.uuid4().hex[:6]}",
        "apiserver": apiserver.target,
        "runtime_endpoint": runtime.endpoint,
        "pod_cidr": runtime.pod_cidr,
        "cgroup_root": runtime.cgroup_root,
        "listen": "127.0.0.1:0",
        "root_dir": str(tmp_path / "kubelet"),
        "pod_log_dir": str(tmp_path / "pods"),
        "node_status_interval": "1s",
        "relist_period": "0.3s",
        **overrides,
    }
    return KubeletConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
async def kubelet(client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path) -> AsyncIterator[Kubelet]:
    cfg = kubelet_config(apiserver, runtime, tmp_path, sync_frequency="5s")
    k = Kubelet(cfg)
    await k.start()
    try:
        yield k
    finally:
        await k.stop()


@pytest.fixture
async def scheduler(client: ApiClient) -> AsyncIterator[Any]:
    """The scheduler, with the node lifecycle controller that lifts the kubelet's registration taint
    (node.kubernetes.io/not-ready:NoSchedule) once the node is Ready, as on a real control plane."""
    from skiff_client import EventRecorder, InformerFactory
    from skiff_controllers.base import ControllerContext
    from skiff_controllers.nodelifecycle.controller import NodeLifecycleController
    from skiff_scheduler.app import SchedulerApp

    ctx = ControllerContext(api=client, factory=InformerFactory(client), events=EventRecorder(client, "test"))
    nlc = NodeLifecycleController(ctx)
    ctx.factory.start()
    nlc_task = asyncio.create_task(nlc.run())
    app = SchedulerApp(client)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
        nlc.queue.shutdown()
        nlc_task.cancel()
        await asyncio.gather(nlc_task, return_exceptions=True)
        await ctx.factory.stop()
        await ctx.events.flush()


def busybox_pod(name: str, script: str, **spec: Any) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(api_version="v1", kind="Pod", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    c = pod.spec.containers.add(
        name="main", image="busybox:latest", command=["sh", "-c", script], image_pull_policy="IfNotPresent"
    )
    c.env.add(name="GREETING", value="hello")
    c.env.add(name="MY_POD").value_from.field_ref.field_path = "metadata.name"
    pod.spec.termination_grace_period_seconds = 2
    for k, v in spec.items():
        setattr(pod.spec, k, v)
    return pod


async def exec_stream(
    stub: kubelet_pb2_grpc.KubeletStub, start: kpb.ExecStart, *inputs: kpb.ExecStreamRequest
) -> tuple[bytes, bytes, int | None]:
    async def requests() -> AsyncIterator[kpb.ExecStreamRequest]:
        yield kpb.ExecStreamRequest(start=start)
        for request in inputs:
            yield request

    out, err, code = b"", b"", None
    async for response in stub.ExecStream(requests()):
        which = response.WhichOneof("output")
        if which == "stdout":
            out += response.stdout
        elif which == "stderr":
            err += response.stderr
        else:
            code = response.exit_code
    return out, err, code


async def check_exec_stream(stub: kubelet_pb2_grpc.KubeletStub, pod: str) -> None:
    """ExecStream: stdin reaches the command and its EOF is seen, streams stay apart, exit codes and
    command-not-found come back as `kubectl exec` reports them, a terminal is a terminal."""
    cat = kpb.ExecStart(namespace="default", pod=pod, command=["sh", "-c", "cat; echo done >&2; exit 4"], stdin=True)
    out, err, code = await exec_stream(
        stub, cat, kpb.ExecStreamRequest(stdin=b"one\n"), kpb.ExecStreamRequest(stdin=b"two\n")
    )
    assert (out, err, code) == (b"one\ntwo\n", b"done\n", 4)
    missing = kpb.ExecStart(namespace="default", pod=pod, command=["no-such-command"])
    out, err, code = await exec_stream(stub, missing)
    assert code == 127 and b"no-such-command" in err
    tty = kpb.ExecStart(
        namespace="default",
        pod=pod,
        command=["sh", "-c", "test -t 0 && stty size"],
        stdin=True,
        tty=True,
        size=kpb.TerminalSize(width=100, height=30),
    )
    out, err, code = await exec_stream(stub, tty, kpb.ExecStreamRequest(close_stdin=True))
    assert code == 0 and out.strip() == b"30 100", out
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await exec_stream(stub, kpb.ExecStart(namespace="default", pod=pod))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as info:  # a second start ends the session, cat and all
        await exec_stream(stub, cat, kpb.ExecStreamRequest(start=cat))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "only the first request" in (info.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await exec_stream(stub, kpb.ExecStart(namespace="default", pod="nope", command=["true"]))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_walking_skeleton(client: ApiClient, kubelet: Kubelet, scheduler: Any, runtime: Any) -> None:
    node_name = kubelet.cfg.node_name

    async def node_ready() -> node_pb2.Node | None:
        node = await client.get(node_pb2.Node, node_name)
        ready = [c for c in node.status.conditions if c.type == "Ready"]
        return node if ready and ready[0].status == "True" else None

    node = await eventually(node_ready, "node Ready")
    assert node.spec.pod_cidr == runtime.pod_cidr
    assert node.status.daemon_endpoints.kubelet_endpoint.port == kubelet.port
    assert {a.type for a in node.status.addresses} == {"InternalIP", "Hostname"}
    assert node.status.capacity["cpu"].value and node.status.node_info.container_runtime_version
    assert {c.type: c.status for c in node.status.conditions}["Ready"] == "True"
    assert any("docker.io/library/busybox:latest" in i.names for i in node.status.images)

    name = f"web-{uuid.uuid4().hex[:6]}"
    web = busybox_pod(name, 'echo "$GREETING from $MY_POD"; echo oops >&2; exec sleep 300')
    web.spec.containers[0].resources.limits["memory"].value = "64Mi"
    web.spec.containers[0].resources.limits["cpu"].value = "500m"
    await client.create(web)

    async def running() -> pod_pb2.Pod | None:
        pod = await client.get(pod_pb2.Pod, name, "default")
        return pod if pod.status.phase == "Running" and pod.status.pod_ip else None

    pod = await eventually(running, "pod Running")
    assert pod.spec.node_name == node_name
    assert pod.status.pod_ip.startswith(runtime.pod_cidr.rsplit(".", 2)[0])
    assert pod.status.host_ip == "127.0.0.1"
    cs = pod.status.container_statuses[0]
    assert cs.ready and cs.container_id.startswith("skiff://") and cs.state.running.started_at.seconds
    assert {c.type: c.status for c in pod.status.conditions} == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    limits = [
        d
        for h in cgroup_hierarchies()
        for d in (h / runtime.cgroup_root).rglob("*")
        if d.is_dir()
        and f"pod{pod.metadata.uid}" in str(d)
        and any(
            (d / f).exists() and (d / f).read_text().strip() == str(64 << 20)
            for f in ("memory.limit_in_bytes", "memory.max")
        )
    ]
    assert limits, "no cgroup below --cgroup-root carries the 64Mi memory limit"

    async with grpc.aio.insecure_channel(f"127.0.0.1:{kubelet.port}") as ch:
        stub = kubelet_pb2_grpc.KubeletStub(ch)

        async def logs() -> list[tuple[str, bytes]]:
            got = [
                (r.stream, r.line)
                async for r in stub.ContainerLogs(kpb.ContainerLogsRequest(namespace="default", pod=name))
            ]
            return got if len(got) >= 2 else []

        lines = await eventually(logs, "container logs")
        assert ("stdout", f"hello from {name}".encode()) in lines and ("stderr", b"oops") in lines
        tail = [
            r.line
            async for r in stub.ContainerLogs(kpb.ContainerLogsRequest(namespace="default", pod=name, tail_lines=1))
        ]
        assert len(tail) == 1

        out = await stub.Exec(
            kpb.ExecRequest(namespace="default", pod=name, command=["sh", "-c", "echo hi; exit 3"], timeout_seconds=10)
        )
        assert (out.exit_code, out.stdout) == (3, b"hi\n")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Exec(kpb.ExecRequest(namespace="default", pod="nope", command=["true"]))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND

        await check_exec_stream(stub, name)

    await client.delete(pod_pb2.Pod, name, "default")

    await gone(client, pod_pb2.Pod, name)
    sandboxes = await kubelet.cri.runtime.ListPodSandbox(
        cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector={L.POD_UID: pod.metadata.uid}))
    )
    assert list(sandboxes.items) == []
    assert not [d for h in cgroup_hierarchies() for d in (h / runtime.cgroup_root).glob(f"pod{pod.metadata.uid}*")]


async def test_restart_policy_never_reaches_succeeded_then_failed(client: ApiClient, kubelet: Kubelet) -> None:
    node = kubelet.cfg.node_name
    ok, bad = f"ok-{uuid.uuid4().hex[:6]}", f"bad-{uuid.uuid4().hex[:6]}"
    await client.create(busybox_pod(ok, "exit 0", restart_policy="Never", node_name=node))
    await client.create(busybox_pod(bad, "exit 7", restart_policy="Never", node_name=node))

    async def phase(name: str, want: str) -> pod_pb2.Pod | None:
        pod = await client.get(pod_pb2.Pod, name, "default")
        return pod if pod.status.phase == want else None

    await eventually(lambda: phase(ok, "Succeeded"), "Succeeded")
    failed = await eventually(lambda: phase(bad, "Failed"), "Failed")
    assert failed.status.container_statuses[0].state.terminated.exit_code == 7
    for n in (ok, bad):
        await client.delete(pod_pb2.Pod, n, "default")


async def test_kubelet_restart_adopts_running_pod(
    client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path
) -> None:
    cfg = kubelet_config(apiserver, runtime, tmp_path, sync_frequency="1s")
    first = Kubelet(cfg)
    await first.start()
    name = f"keep-{uuid.uuid4().hex[:6]}"
    try:
        await client.create(busybox_pod(name, "exec sleep 300", node_name=cfg.node_name))

        async def running() -> pod_pb2.Pod | None:
            pod = await client.get(pod_pb2.Pod, name, "default")
            return pod if pod.status.phase == "Running" else None

        before = await eventually(running, "pod Running")
    finally:
        await first.stop()
    second = Kubelet(cfg)
    await second.start()
    try:
        await asyncio.sleep(2.5)  # housekeeping has run at least twice
        after = await client.get(pod_pb2.Pod, name, "default")
        assert after.status.phase == "Running"
        assert after.status.container_statuses[0].container_id == before.status.container_statuses[0].container_id
        assert after.status.container_statuses[0].restart_count == 0
        await client.delete(pod_pb2.Pod, name, "default")

        await gone(client, pod_pb2.Pod, name)
    finally:
        await second.stop()


async def test_probes_and_crash_loop_restart(client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path) -> None:
    cfg = kubelet_config(apiserver, runtime, tmp_path, sync_frequency="2s", crash_loop_backoff="0.5s")
    k = Kubelet(cfg)
    await k.start()
    name = f"probed-{uuid.uuid4().hex[:6]}"
    try:
        pod = busybox_pod(name, 'echo "attempt $(ls /proc | wc -l)"; exec sleep 300', node_name=cfg.node_name)
        c = pod.spec.containers[0]
        c.readiness_probe.exec.command.extend(["test", "-f", "/tmp/ready"])
        c.readiness_probe.period_seconds = 1
        c.liveness_probe.exec.command.extend(["test", "!", "-f", "/tmp/dead"])
        c.liveness_probe.period_seconds = 1
        c.liveness_probe.failure_threshold = 1
        await client.create(pod)

        async def status() -> pod_pb2.PodStatus:
            return (await client.get(pod_pb2.Pod, name, "default")).status

        async def running_not_ready() -> bool:
            st = await status()
            return st.phase == "Running" and not st.container_statuses[0].ready

        await eventually(running_not_ready, "Running but not Ready")
        exec_ = k.syncer.cri.runtime

        async def run_in(cmd: list[str]) -> None:
            st = await status()
            cid = st.container_statuses[0].container_id.removeprefix("skiff://")
            await exec_.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=5))

        await run_in(["touch", "/tmp/ready"])

        async def ready() -> bool:
            st = await status()
            return st.container_statuses[0].ready and {x.type: x.status for x in st.conditions}["Ready"] == "True"

        await eventually(ready, "Ready after the readiness probe passes")
        await run_in(["touch", "/tmp/dead"])

        async def restarted() -> bool:
            st = (await status()).container_statuses[0]
            return st.restart_count == 1 and st.state.HasField("running") and st.last_state.HasField("terminated")

        await eventually(restarted, "restart after liveness failure")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{k.port}") as ch:
            stub = kubelet_pb2_grpc.KubeletStub(ch)

            async def log_lines(previous: bool) -> list[bytes]:
                req = kpb.ContainerLogsRequest(namespace="default", pod=name, previous=previous)
                return [r.line async for r in stub.ContainerLogs(req)]

            # each instance has its own log file (<container>/<restartCount>.log)
            assert len(await eventually(lambda: log_lines(False), "current log")) == 1
            assert len(await log_lines(True)) == 1
        assert not (await status()).container_statuses[0].ready  # fresh container: not ready until probed
        await client.delete(pod_pb2.Pod, name, "default")

        await gone(client, pod_pb2.Pod, name)
    finally:
        await k.stop()


async def test_volumes_env_init_containers_and_log_follow(client: ApiClient, kubelet: Kubelet) -> None:
    from skiff.api.core.v1 import config_pb2

    suffix = uuid.uuid4().hex[:6]
    await client.create(
        config_pb2.Secret(
            api_version="v1",
            kind="Secret",
            data={"token": b"s3cret"},
            metadata=meta_pb2.ObjectMeta(name=f"sec-{suffix}", namespace="default"),
        )
    )
    await client.create(
        config_pb2.ConfigMap(
            api_version="v1",
            kind="ConfigMap",
            data={"mode": "fast"},
            metadata=meta_pb2.ObjectMeta(name=f"cm-{suffix}", namespace="default"),
        )
    )
    name = f"vol-{suffix}"
    pod = busybox_pod(
        name,
        'echo "init=$(cat /work/from-init) token=$(cat /secret/token) mode=$MODE fs=$(stat -f -c %T /secret)";'
        " sleep 1; echo bye",
        restart_policy="Never",
        node_name=kubelet.cfg.node_name,
    )
    pod.spec.volumes.add(name="work").empty_dir.SetInParent()
    pod.spec.volumes.add(name="sec").secret.secret_name = f"sec-{suffix}"
    init = pod.spec.init_containers.add(
        name="init",
        image="busybox:latest",
        image_pull_policy="IfNotPresent",
        command=["sh", "-c", "echo hello > /work/from-init"],
    )
    init.volume_mounts.add(name="work", mount_path="/work")
    main = pod.spec.containers[0]
    main.volume_mounts.add(name="work", mount_path="/work")
    main.volume_mounts.add(name="sec", mount_path="/secret", read_only=True)
    ref = main.env.add(name="MODE").value_from.config_map_key_ref
    ref.name, ref.key = f"cm-{suffix}", "mode"
    await client.create(pod)

    async def started() -> bool:
        st = (await client.get(pod_pb2.Pod, name, "default")).status
        return bool(st.container_statuses) and (
            st.container_statuses[0].state.HasField("running") or st.container_statuses[0].state.HasField("terminated")
        )

    await eventually(started, "main container started")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{kubelet.port}") as ch:
        stub = kubelet_pb2_grpc.KubeletStub(ch)
        # follow: the stream ends by itself when the container exits
        lines = [
            r.line
            async for r in stub.ContainerLogs(
                kpb.ContainerLogsRequest(namespace="default", pod=name, follow=True, timestamps=True)
            )
        ]
    assert lines == [b"init=hello token=s3cret mode=fast fs=tmpfs", b"bye"]

    async def succeeded() -> pod_pb2.Pod | None:
        p = await client.get(pod_pb2.Pod, name, "default")
        return p if p.status.phase == "Succeeded" else None

    done = await eventually(succeeded, "Succeeded")
    assert done.status.init_container_statuses[0].state.terminated.exit_code == 0
    assert {c.type: c.status for c in done.status.conditions}["Initialized"] == "True"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{kubelet.port}") as ch:
        stub = kubelet_pb2_grpc.KubeletStub(ch)
        after = [r.line async for r in stub.ContainerLogs(kpb.ContainerLogsRequest(namespace="default", pod=name))]
    assert after == [b"init=hello token=s3cret mode=fast fs=tmpfs", b"bye"]  # a finished pod keeps its logs
    log_dir = Path(kubelet.cfg.pod_log_dir) / f"default_{name}_{done.metadata.uid}"
    assert log_dir.is_dir()
    await client.delete(pod_pb2.Pod, name, "default")

    async def cleaned() -> bool:
        try:
            await client.get(pod_pb2.Pod, name, "default")
            return False
        except errors.NotFound:
            return not log_dir.exists()

    await eventually(cleaned, "pod and its log directory removed")
    assert not [p for p, _ in tmpfs.mount_points() if p.startswith(kubelet.cfg.root_dir + "/")]  # secret tmpfs


async def test_missing_image_with_never_policy_waits_with_reason(client: ApiClient, kubelet: Kubelet) -> None:
    name = f"noimg-{uuid.uuid4().hex[:6]}"
    pod = busybox_pod(name, "true", node_name=kubelet.cfg.node_name)
    pod.spec.containers[0].image = "skiff-test/not-there:1"
    pod.spec.containers[0].image_pull_policy = "Never"  # never pulls: no traffic leaves the host
    await client.create(pod)

    async def waiting() -> pod_pb2.Pod | None:
        p = await client.get(pod_pb2.Pod, name, "default")
        cs = p.status.container_statuses
        return p if cs and cs[0].state.waiting.reason == "ErrImageNeverPull" else None

    p = await eventually(waiting, "ErrImageNeverPull")
    assert p.status.phase == "Pending" and "not present" in p.status.container_statuses[0].state.waiting.message
    await client.delete(pod_pb2.Pod, name, "default")

    await gone(client, pod_pb2.Pod, name)
    left = await kubelet.cri.runtime.ListPodSandbox(
        cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector={L.POD_UID: p.metadata.uid}))
    )
    assert list(left.items) == []


async def test_host_network_pod_reports_host_ip(client: ApiClient, kubelet: Kubelet) -> None:
    name = f"hostnet-{uuid.uuid4().hex[:6]}"
    await client.create(busybox_pod(name, "exec sleep 300", node_name=kubelet.cfg.node_name, host_network=True))

    async def running() -> pod_pb2.Pod | None:
        p = await client.get(pod_pb2.Pod, name, "default")
        return p if p.status.phase == "Running" else None

    p = await eventually(running, "hostNetwork pod Running")
    assert p.status.pod_ip == "127.0.0.1" == p.status.host_ip
    st = p.status.container_statuses[0]
    out = await kubelet.cri.runtime.ExecSync(
        cri.ExecSyncRequest(
            container_id=st.container_id.removeprefix("skiff://"),
            cmd=["readlink", "/proc/self/ns/net"],
            timeout=5,
        )
    )
    assert out.stdout.decode().strip() == os.readlink("/proc/self/ns/net")  # the host's network namespace
    await client.delete(pod_pb2.Pod, name, "default", grace_period_seconds=0)


class CountingStub:
    """Wraps a CRI stub and records the name of every method called through it."""

    def __init__(self, stub: Any, calls: list[str]) -> None:
        self._stub, self._calls = stub, calls

    def __getattr__(self, method: str) -> Any:
        self._calls.append(method)
        return getattr(self._stub, method)


async def test_idle_sync_makes_no_cri_call(client: ApiClient, kubelet: Kubelet) -> None:
    """A sync of a running pod in which nothing changed reads the PLEG's cache: no CRI call at all."""
    name = f"idle-{uuid.uuid4().hex[:6]}"
    await client.create(busybox_pod(name, "exec sleep 300", node_name=kubelet.cfg.node_name))

    async def running() -> pod_pb2.Pod | None:
        p = await client.get(pod_pb2.Pod, name, "default")
        ok = p.status.phase == "Running" and p.status.pod_ip and p.status.container_statuses[0].ready
        return p if ok else None

    await eventually(running, "pod Running")
    cached = await eventually(lambda: _informer_pod(kubelet, name), "the kubelet's informer to see the pod Running")
    calls: list[str] = []
    real_runtime, real_images = kubelet.cri.runtime, kubelet.cri.images
    kubelet.cri.runtime, kubelet.cri.images = CountingStub(real_runtime, calls), CountingStub(real_images, calls)
    try:
        for _ in range(3):
            assert await kubelet.syncer.sync(cached) is None
            await kubelet.syncer.cleanup_name("default", name, cached.metadata.uid)
    finally:
        kubelet.cri.runtime, kubelet.cri.images = real_runtime, real_images
    # The relist loop shares the client: its two list calls are the only ones allowed meanwhile.
    assert set(calls) <= {"ListPodSandbox", "ListContainers"}, calls
    await client.delete(pod_pb2.Pod, name, "default", grace_period_seconds=0)


async def _informer_pod(kubelet: Kubelet, name: str) -> pod_pb2.Pod | None:
    p = kubelet.pods.store.get(f"default/{name}")
    return p if p is not None and p.status.phase == "Running" and p.status.container_statuses[0].ready else None


async def test_resolv_conf_hosts_and_service_env(client: ApiClient, kubelet: Kubelet) -> None:
    """A running pod's /etc/resolv.conf (ClusterFirst: the kubelet's --cluster-dns and search path),
    the kubelet-managed /etc/hosts (IP, FQDN from hostname+subdomain, hostAliases) and the variables
    of a Service of its namespace. Only files and env are read: nothing is sent to the DNS address."""
    from skiff.api.core.v1 import service_pb2

    suffix = uuid.uuid4().hex[:6]
    svc = service_pb2.Service(
        api_version="v1", kind="Service", metadata=meta_pb2.ObjectMeta(name=f"db-{suffix}", namespace="default")
    )
    svc.spec.selector["app"] = "db"
    svc.spec.ports.add(name="pg", port=5432, protocol="TCP").target_port.int_val = 5432
    svc = await client.create(svc)
    assert svc.spec.cluster_ip
    await eventually(
        lambda: _in_store(kubelet.services.store.get(f"default/{svc.metadata.name}")), "the kubelet to see the Service"
    )
    name = f"dns-{suffix}"
    pod = busybox_pod(name, "exec sleep 300", node_name=kubelet.cfg.node_name, hostname="box", subdomain="sub")
    pod.spec.host_aliases.add(ip="10.1.2.3", hostnames=["foo.remote", "bar.remote"])
    await client.create(pod)

    async def running() -> pod_pb2.Pod | None:
        p = await client.get(pod_pb2.Pod, name, "default")
        return p if p.status.phase == "Running" and p.status.pod_ip else None

    p = await eventually(running, "pod Running")
    cid = p.status.container_statuses[0].container_id.removeprefix("skiff://")

    async def read(*cmd: str) -> str:
        out = await kubelet.cri.runtime.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=list(cmd), timeout=5))
        assert out.exit_code == 0, out.stderr
        return str(out.stdout.decode())

    resolv = (await read("cat", "/etc/resolv.conf")).splitlines()
    assert "nameserver 10.96.0.10" in resolv and "options ndots:5" in resolv
    assert [ln for ln in resolv if ln.startswith("nameserver")] == ["nameserver 10.96.0.10"]
    search = next(ln for ln in resolv if ln.startswith("search ")).split()[1:]
    assert search[:3] == ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    hosts = await read("cat", "/etc/hosts")
    assert hosts.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert f"{p.status.pod_ip}\tbox.sub.default.svc.cluster.local\tbox\n" in hosts
    assert hosts.endswith("# Entries added by HostAliases.\n10.1.2.3\tfoo.remote\tbar.remote\n")
    env = dict(line.split("=", 1) for line in (await read("env")).splitlines() if "=" in line)
    prefix = svc.metadata.name.upper().replace("-", "_")
    ip = svc.spec.cluster_ip
    assert env[f"{prefix}_SERVICE_HOST"] == ip and env[f"{prefix}_SERVICE_PORT_PG"] == "5432"
    assert env[f"{prefix}_PORT"] == f"tcp://{ip}:5432" and env[f"{prefix}_PORT_5432_TCP_ADDR"] == ip
    assert (await read("hostname")).strip() == "box"
    await client.delete(pod_pb2.Pod, name, "default", grace_period_seconds=0)
    await client.delete(service_pb2.Service, svc.metadata.name, "default")


async def _in_store(obj: Any) -> Any:
    return obj
