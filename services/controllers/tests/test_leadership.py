"""The controller-manager rides out an apiserver outage: leadership is lost, the controllers stop,
and once the apiserver is back it campaigns again and controls again -- the process never exits."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import Etcd, eventually, free_port
from skiff_common import errors
from skiff_controllers.leader import LeaderElector
from skiff_controllers.main import run_manager

pytestmark = pytest.mark.etcd


async def _apiserver(etcd: Etcd, port: int):  # type: ignore[no-untyped-def]
    from skiff_apiserver.app import ApiServerApp
    from skiff_apiserver.config import ApiServerConfig

    app = ApiServerApp(
        ApiServerConfig(
            listen=f"127.0.0.1:{port}",
            etcd_endpoints=[etcd.endpoint],
            etcd_prefix="/registry",
            disable_admission_plugins=["ServiceAccount"],  # no serviceaccount controller runs here
        )
    )
    await app.start()
    return app


def _rs(name: str) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet(api_version="apps/v1", kind="ReplicaSet")
    rs.metadata.CopyFrom(meta_pb2.ObjectMeta(name=name, namespace="default"))
    rs.spec.replicas = 1
    rs.spec.selector.match_labels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    rs.spec.template.spec.containers.add(name="c", image="busybox")
    return rs


async def _has_pod(client: ApiClient, name: str) -> bool:
    return len((await client.list(pod_pb2.Pod, "default", label_selector=f"app={name}")).items) == 1


async def test_lost_lease_stops_controllers_and_campaigns_again(etcd: Etcd) -> None:
    port = free_port()
    app = await _apiserver(etcd, port)
    api = ApiClient.connect(f"127.0.0.1:{port}", wait_for_ready=True, timeout=5)
    elector = LeaderElector(api, "me", lease_duration=2, renew_deadline=1.0, retry_period=0.2)
    stop = asyncio.Event()
    runner = asyncio.create_task(run_manager(api, ["replicaset"], elector, stop))
    try:
        first = f"a-{uuid.uuid4().hex[:6]}"
        await api.create(_rs(first))
        await eventually(lambda: _has_pod(api, first), "the ReplicaSet controlled before the outage")
        status = {"name": "kube-controller-manager"}
        assert REGISTRY.get_sample_value("leader_election_master_status", status) == 1

        await app.stop(0)  # the apiserver goes away for longer than the renew deadline
        await asyncio.sleep(3.0)
        assert not runner.done()  # still running, campaigning
        assert REGISTRY.get_sample_value("leader_election_master_status", status) == 0

        app = await _apiserver(etcd, port)
        second = f"b-{uuid.uuid4().hex[:6]}"
        await eventually(lambda: _create(api, second), "apiserver back", within=30)
        await eventually(lambda: _has_pod(api, second), "controllers running again after re-election", within=60)
        assert not runner.done()
    finally:
        stop.set()
        await asyncio.wait_for(runner, 30)
        await api.close()
        await app.stop(0)


async def _create(api: ApiClient, name: str) -> bool:
    try:
        await api.create(_rs(name))
    except errors.AlreadyExists:
        return True
    except errors.SkiffError:
        return False  # not back yet
    return True
