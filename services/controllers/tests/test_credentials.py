"""--use-service-account-credentials against a real apiserver with Node,RBAC: the manager's own
identity (system:kube-controller-manager) reads and obtains tokens, each controller's client acts as its
kube-system ServiceAccount and holds exactly its `system:controller:*` role."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from skiff.api.apps.v1 import apps_pb2 as replicaset_pb2
from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff.api.core.v1 import pod_pb2, serviceaccount_pb2
from skiff_client import ApiClient
from skiff_common import errors

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "services" / "apiserver" / "tests"))

from authz_testlib import start_secure
from skiff_controllers.credentials import ServiceAccountCredentials


def _pod() -> pod_pb2.Pod:
    pod = pod_pb2.Pod()
    pod.metadata.name, pod.metadata.namespace = "p", "default"
    pod.spec.containers.add(name="c", image="busybox")
    return pod


def _replicaset() -> replicaset_pb2.ReplicaSet:
    rs = replicaset_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.namespace = "rs", "default"
    rs.spec.selector.match_labels["app"] = "x"
    rs.spec.template.metadata.labels["app"] = "x"
    rs.spec.template.spec.containers.add(name="c", image="busybox")
    return rs


async def test_each_controller_acts_as_its_service_account(etcd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster = await start_secure(etcd.endpoint, tmp_path)
    root = ApiClient.connect(cluster.target, tls=cluster.cert("system:kube-controller-manager"))
    creds = ServiceAccountCredentials(root)
    replicasets = creds.client("replicaset-controller")
    deployments = creds.client("deployment-controller")
    try:
        await creds.prepare()
        # the ServiceAccounts were made in kube-system by the manager
        for name in ("replicaset-controller", "deployment-controller"):
            await root.get(serviceaccount_pb2.ServiceAccount, name, "kube-system")
        who = await replicasets.create(an.SelfSubjectReview())
        assert who.status.user_info.username == "system:serviceaccount:kube-system:replicaset-controller"

        await replicasets.create(_pod(), dry_run=True)  # its job
        await deployments.create(_replicaset(), dry_run=True)  # its job
        with pytest.raises(errors.Forbidden):
            await replicasets.create(_replicaset(), dry_run=True)  # another controller's
        with pytest.raises(errors.Forbidden):
            await deployments.create(_pod(), dry_run=True)
        with pytest.raises(errors.Forbidden):
            await root.create(_pod(), dry_run=True)  # the manager itself only reads
        await root.list(pod_pb2.Pod)
    finally:
        await creds.stop()
        await root.close()
        await cluster.close()


def test_every_controller_service_account_has_its_bootstrap_role() -> None:
    """A controller whose ServiceAccount has no `system:controller:*` role could do nothing under RBAC."""
    from skiff_apiserver.auth.rbac.controllers import CONTROLLER_NAMESPACED_ROLES, CONTROLLER_ROLES
    from skiff_controllers.registry import SERVICE_ACCOUNTS

    with_roles = set(CONTROLLER_ROLES) | {sa for _, sa in CONTROLLER_NAMESPACED_ROLES}
    assert set(SERVICE_ACCOUNTS.values()) <= with_roles


async def test_a_token_is_renewed_before_it_expires(etcd, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from skiff_controllers import credentials

    monkeypatch.setattr(credentials, "TICK_SECONDS", 0.05)
    cluster = await start_secure(etcd.endpoint, tmp_path)
    root = ApiClient.connect(cluster.target, tls=cluster.cert("system:kube-controller-manager"))
    creds = ServiceAccountCredentials(root)
    client = creds.client("job-controller")
    try:
        await creds.prepare()
        token = creds._tokens["job-controller"]
        first = token.value
        gone = credentials.TOKEN_SECONDS * credentials.REFRESH_AT  # 80% of its life has passed
        token.issued, token.expires = token.issued - gone, token.expires - gone
        for _ in range(200):
            if token.value != first:
                break
            await asyncio.sleep(0.05)
        assert token.value != first
        who = await client.create(an.SelfSubjectReview())  # the client sends the new one
        assert who.status.user_info.username == "system:serviceaccount:kube-system:job-controller"
    finally:
        await creds.stop()
        await root.close()
        await cluster.close()
