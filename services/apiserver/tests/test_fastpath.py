"""What the performance work changed in behaviour: Create answers from the bytes it stored, the event
loop choice, and --workers (several processes serving one port, as replicas of one apiserver)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from apiserver_etcd import EtcdMember, free_port
from apiserver_testlib import create, get, pod, uniq
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_apiserver.config import ApiServerConfig
from skiff_apiserver.machinery import kinds
from skiff_apiserver.main import resolve_listen, run_loop, worker_config
from skiff_apiserver.storage import codec


def test_pack_stored_decodes_to_the_object_with_its_resource_version() -> None:
    obj = pod("web")
    kinds.set_type_meta(obj)
    obj.metadata.resource_version = "42"
    stored = codec.encode(obj)
    assert b"42" not in stored  # the stored bytes never carry the resourceVersion
    packed = codec.pack_stored(obj, stored)
    assert packed.type_url == kinds.pack(obj).type_url
    assert kinds.unpack(packed) == obj


async def test_create_response_equals_what_a_read_returns(api) -> None:
    created = await create(api.stub, pod(uniq("fast"), labels={"app": "x"}))
    assert created == await get(api.stub, "pods", created.metadata.name)
    assert created.metadata.resource_version and created.kind == "Pod"


async def test_dry_run_create_answers_without_resource_version(api) -> None:
    resp = await api.stub.Create(pb.CreateRequest(object=kinds.pack(pod(uniq("dry"))), dry_run=True))
    obj = kinds.unpack(resp.object)
    assert obj.metadata.uid and not obj.metadata.resource_version  # type: ignore[attr-defined]


def test_worker_settings() -> None:
    cfg = ApiServerConfig(listen="127.0.0.1:6443", metrics_address="127.0.0.1:9100", workers=3)
    w0, w2 = worker_config(cfg, 0), worker_config(cfg, 2)
    assert (w0.metrics_address, w2.metrics_address) == ("127.0.0.1:9100", "127.0.0.1:9102")
    assert w0.reuse_port and w2.reuse_port and w2.workers == 1 and w2.listen == cfg.listen
    assert resolve_listen("127.0.0.1:6443") == "127.0.0.1:6443"
    assert resolve_listen("127.0.0.1:0") != "127.0.0.1:0"
    with pytest.raises(ValueError, match="--workers"):
        resolve_listen("unix:///run/api.sock")


def test_unknown_event_loop_is_a_clear_error() -> None:
    async def nothing() -> None:
        pass

    with pytest.raises(ValueError, match="--event-loop: unsupported value 'tokio'"):
        run_loop(ApiServerConfig(event_loop="tokio"), nothing())


async def test_workers_serve_one_port_as_one_apiserver(etcd: EtcdMember) -> None:
    port = free_port()
    prefix = f"/perf-workers-{uniq()}"
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "skiff-apiserver"), "--listen", f"127.0.0.1:{port}",
        "--etcd-endpoints", etcd.endpoint, "--etcd-prefix", prefix, "--workers", "2", "--log-level", "warning",
        "--disable-admission-plugins", "ServiceAccount",  # no serviceaccount controller here
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    children: list[str] = []
    channels: list[grpc.aio.Channel] = []
    try:
        # Separate connections (distinct channel args) land on either worker; all see the same objects.
        for i in range(6):
            ch = grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("skiff.test.channel", i)])
            await asyncio.wait_for(ch.channel_ready(), 30)
            channels.append(ch)
        stubs = [apiserver_pb2_grpc.ApiServerStub(ch) for ch in channels]
        await stubs[0].ListResources(pb.ListResourcesRequest(), wait_for_ready=True, timeout=30)
        names = [uniq("w") for _ in stubs]
        for stub, name in zip(stubs, names, strict=True):
            await create(stub, pod(name))
        for stub in stubs:
            resp = await stub.List(pb.ListRequest(resource="pods", namespace="default"))
            assert sorted(kinds.unpack(a).metadata.name for a in resp.items) == sorted(names)  # type: ignore[attr-defined]
        children = _children(proc.pid)
        assert len(children) >= 2  # the spawned worker (and multiprocessing's resource tracker)
    finally:
        for ch in channels:
            await ch.close()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    for _ in range(200):  # bounded wait: the workers exit with (not before) the first process
        if not [pid for pid in children if _alive(pid)]:
            break
        await asyncio.sleep(0.05)
    assert not [pid for pid in children if _alive(pid)]


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def _alive(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
