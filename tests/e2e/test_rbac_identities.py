"""Issue 11 on a real `skiff up` cluster: it runs under `--authorization-mode=Node,RBAC` with nothing
granted beyond Kubernetes' defaults (and kubeadm's add-on roles), and each component's identity is
least-privilege. Each check sends a real request with the component's own certificate from the cluster's
pki directory (or a controller's own ServiceAccount token), so it is what the component itself could do.

The expected answers come from Kubernetes' documentation of the default roles (system:kube-scheduler,
system:node-proxier, system:controller:*, the Node authorizer), not from Skiff's policy tables.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from skiff.api.apps.v1 import apps_pb2
from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff.api.certificates.v1 import certificates_pb2
from skiff.api.core.v1 import config_pb2, namespace_pb2, node_pb2, pod_pb2, service_pb2
from skiff_cli.cluster import processes
from skiff_cli.cluster.local import LocalCluster
from skiff_client import ApiClient
from skiff_common import errors

pytestmark = [pytest.mark.e2e, pytest.mark.root]

NS = "default"
SECRET = "e2e-rbac-unmounted"
MISSING = "e2e-rbac-missing"  # writes to an object that is not there: authorized (NotFound) or Forbidden
CSR = certificates_pb2.CertificateSigningRequest


def _pod(name: str) -> pod_pb2.Pod:
    pod = pod_pb2.Pod()
    pod.metadata.name, pod.metadata.namespace = name, NS
    pod.spec.containers.add(name="c", image="busybox", command=["sleep", "3600"])
    return pod


def _named(obj: Any) -> Any:
    obj.metadata.name, obj.metadata.namespace = "e2e-rbac-obj", NS
    return obj


def _secret() -> config_pb2.Secret:
    s = config_pb2.Secret()
    s.metadata.name, s.metadata.namespace = SECRET, NS
    s.data["k"] = b"v"
    return s


def _replicaset() -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.namespace = "e2e-rbac-rs", NS
    rs.spec.selector.match_labels["app"] = "e2e-rbac-rs"
    rs.spec.template.metadata.labels["app"] = "e2e-rbac-rs"
    rs.spec.template.spec.containers.add(name="c", image="busybox")
    return rs


def _namespace() -> namespace_pb2.Namespace:
    ns = namespace_pb2.Namespace()
    ns.metadata.name = MISSING
    return ns


def _csr() -> certificates_pb2.CertificateSigningRequest:
    req = CSR()
    req.metadata.name = MISSING
    return req


def _run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _allowed(client: ApiClient, call: Callable[[ApiClient], Awaitable[Any]]) -> bool:
    """True if the apiserver authorized the request (whatever it then answered), False on Forbidden."""
    try:
        await call(client)
    except errors.Forbidden:
        return False
    except errors.SkiffError:
        return True  # authorized, then NotFound/AlreadyExists/Invalid...
    return True


def _as_component(cluster: LocalCluster, component: str) -> ApiClient:
    return ApiClient.connect(cluster.layout.apiserver_address, tls=cluster.tls[component])


async def _token(admin: ApiClient, service_account: str) -> str:
    req = an.TokenRequest()
    req.metadata.name, req.metadata.namespace = service_account, "kube-system"
    return str((await admin.create(req)).status.token)


def _matrix(cluster: LocalCluster) -> dict[str, bool]:
    """(identity: action) -> allowed, asked of the live apiserver."""
    node = cluster.layout.node_name

    async def ask() -> dict[str, bool]:
        admin = _as_component(cluster, "admin")
        try:
            await admin.create(_secret())
        except errors.AlreadyExists:
            pass
        out: dict[str, bool] = {}
        clients = {name: _as_component(cluster, name) for name in ("scheduler", "proxy", "kubelet", "controllers")}
        clients |= {name: _as_component(cluster, name) for name in ("dns", "metrics")}
        for sa in (
            "replicaset-controller", "deployment-controller", "endpoint-controller", "namespace-controller",
            "certificate-controller",
        ):  # fmt: skip
            token = await _token(admin, sa)
            clients[sa] = admin.with_bearer_token(lambda token=token: token)
        checks: dict[str, tuple[str, Callable[[ApiClient], Awaitable[Any]]]] = {
            "scheduler lists pods": ("scheduler", lambda c: c.list(pod_pb2.Pod)),
            "scheduler binds pods": ("scheduler", lambda c: c.bind("e2e-rbac-missing", NS, node)),
            "scheduler creates a secret": ("scheduler", lambda c: c.create(_secret(), dry_run=True)),
            "scheduler reads a secret": ("scheduler", lambda c: c.get(config_pb2.Secret, SECRET, NS)),
            "proxy lists services": ("proxy", lambda c: c.list(service_pb2.Service)),
            "proxy deletes a pod": ("proxy", lambda c: c.delete(pod_pb2.Pod, "e2e-rbac-missing", NS, dry_run=True)),
            "proxy creates a configmap": ("proxy", lambda c: c.create(_named(config_pb2.ConfigMap()), dry_run=True)),
            "kubelet reads its node": ("kubelet", lambda c: c.get(node_pb2.Node, node)),
            "kubelet reads an unmounted secret": ("kubelet", lambda c: c.get(config_pb2.Secret, SECRET, NS)),
            "kubelet lists secrets": ("kubelet", lambda c: c.list(config_pb2.Secret)),
            "controller manager lists secrets": ("controllers", lambda c: c.list(config_pb2.Secret)),
            "controller manager creates a pod": ("controllers", lambda c: c.create(_pod("e2e-rbac-x"), dry_run=True)),
            "controller manager deletes a node": (
                "controllers",
                lambda c: c.delete(node_pb2.Node, "e2e-rbac-other-node", dry_run=True),
            ),
            "dns lists services": ("dns", lambda c: c.list(service_pb2.Service)),
            "dns reads a secret": ("dns", lambda c: c.get(config_pb2.Secret, SECRET, NS)),
            "dns creates a service": ("dns", lambda c: c.create(_named(service_pb2.Service()), dry_run=True)),
            "metrics lists pods": ("metrics", lambda c: c.list(pod_pb2.Pod)),
            "metrics lists secrets": ("metrics", lambda c: c.list(config_pb2.Secret)),
            "replicaset-controller creates a pod": (
                "replicaset-controller",
                lambda c: c.create(_pod("e2e-rbac-rs-pod"), dry_run=True),
            ),
            "replicaset-controller creates a replicaset": (
                "replicaset-controller",
                lambda c: c.create(_replicaset(), dry_run=True),
            ),
            "deployment-controller creates a replicaset": (
                "deployment-controller",
                lambda c: c.create(_replicaset(), dry_run=True),
            ),
            "deployment-controller creates a pod": (
                "deployment-controller",
                lambda c: c.create(_pod("e2e-rbac-d-pod"), dry_run=True),
            ),
            "deployment-controller deletes a deployment": (
                "deployment-controller",
                lambda c: c.delete(apps_pb2.Deployment, "e2e-rbac-missing", NS, dry_run=True),
            ),
            "endpoint-controller reads a secret": (
                "endpoint-controller",
                lambda c: c.get(config_pb2.Secret, SECRET, NS),
            ),
            # subresources written as Kubernetes' controllers write them: PUT (update), never PATCH
            "namespace-controller updates namespaces/finalize": (
                "namespace-controller",
                lambda c: c.update_status(_namespace(), subresource="finalize", dry_run=True),
            ),
            "namespace-controller patches namespaces/finalize": (
                "namespace-controller",
                lambda c: c.patch(
                    namespace_pb2.Namespace, MISSING, "", {"spec": {}}, subresource="finalize", dry_run=True
                ),
            ),
            "certificate-controller updates a CSR's approval": (
                "certificate-controller",
                lambda c: c.update_status(_csr(), subresource="approval", dry_run=True),
            ),
            "certificate-controller updates a CSR's status": (
                "certificate-controller",
                lambda c: c.update_status(_csr(), dry_run=True),
            ),
            "certificate-controller patches a CSR's approval": (
                "certificate-controller",
                lambda c: c.patch(CSR, MISSING, "", {"status": {}}, subresource="approval", dry_run=True),
            ),
            "certificate-controller patches a CSR's status": (
                "certificate-controller",
                lambda c: c.patch(CSR, MISSING, "", {"status": {}}, subresource="status", dry_run=True),
            ),
        }
        try:
            for what, (who, call) in checks.items():
                out[what] = await _allowed(clients[who], call)
        finally:
            await admin.delete(config_pb2.Secret, SECRET, NS)
            for c in clients.values():
                await c.close()
            await admin.close()
        return out

    return _run(ask())


EXPECTED = {
    "scheduler lists pods": True,
    "scheduler binds pods": True,
    "scheduler creates a secret": False,
    "scheduler reads a secret": False,
    "proxy lists services": True,
    "proxy deletes a pod": False,
    "proxy creates a configmap": False,
    "kubelet reads its node": True,
    "kubelet reads an unmounted secret": False,
    "kubelet lists secrets": False,
    "controller manager lists secrets": True,  # list/watch everything: the shared informers
    "controller manager creates a pod": False,  # writes go out as the controllers' ServiceAccounts
    "controller manager deletes a node": False,
    "dns lists services": True,
    "dns reads a secret": False,
    "dns creates a service": False,
    "metrics lists pods": True,
    "metrics lists secrets": False,
    "replicaset-controller creates a pod": True,
    "replicaset-controller creates a replicaset": False,
    "deployment-controller creates a replicaset": True,
    "deployment-controller creates a pod": False,
    "deployment-controller deletes a deployment": False,
    "endpoint-controller reads a secret": False,
    "namespace-controller updates namespaces/finalize": True,
    "namespace-controller patches namespaces/finalize": False,
    "certificate-controller updates a CSR's approval": True,
    "certificate-controller updates a CSR's status": True,
    "certificate-controller patches a CSR's approval": False,
    "certificate-controller patches a CSR's status": False,
}


def test_apiserver_runs_node_rbac(cluster: LocalCluster) -> None:
    pid = processes.running_pid("apiserver", cluster.layout.pid_dir)
    assert pid is not None
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"--authorization-mode=Node,RBAC" in argv
    controllers = processes.running_pid("controllers", cluster.layout.pid_dir)
    assert b"--use-service-account-credentials" in Path(f"/proc/{controllers}/cmdline").read_bytes().split(b"\0")


def test_each_identity_is_least_privilege(cluster: LocalCluster) -> None:
    got = _matrix(cluster)
    wrong = {what: allowed for what, allowed in got.items() if EXPECTED[what] != allowed}
    assert not wrong, f"answers that differ from Kubernetes' default policy (action: allowed): {wrong}"


def test_kubelet_reads_only_the_secrets_of_its_own_pods(skiff, cluster: LocalCluster) -> None:  # type: ignore[no-untyped-def]
    """The Node authorizer's other half: once a pod bound to the node mounts a Secret, the kubelet may
    read that Secret (and runs the pod), while the Secret beside it stays closed."""
    mounted, other = "e2e-rbac-mounted", "e2e-rbac-other"
    node = cluster.layout.node_name

    async def setup() -> None:
        async with _as_component(cluster, "admin") as admin:
            for name in (mounted, other):
                s = _secret()
                s.metadata.name = name
                await admin.create(s)
            pod = _pod("e2e-rbac-mounter")
            pod.spec.node_name = node
            pod.spec.volumes.add(name="s").secret.secret_name = mounted
            pod.spec.containers[0].volume_mounts.add(name="s", mount_path="/s")
            await admin.create(pod)

    async def kubelet_reads() -> dict[str, bool]:
        async with _as_component(cluster, "kubelet") as kubelet:
            return {
                n: await _allowed(kubelet, lambda c, n=n: c.get(config_pb2.Secret, n, NS)) for n in (mounted, other)
            }

    async def cleanup() -> None:
        async with _as_component(cluster, "admin") as admin:
            for call in (
                admin.delete(pod_pb2.Pod, "e2e-rbac-mounter", NS, grace_period_seconds=0),
                admin.delete(config_pb2.Secret, mounted, NS),
                admin.delete(config_pb2.Secret, other, NS),
            ):
                try:
                    await call
                except errors.NotFound:
                    pass

    _run(setup())
    try:
        skiff.wait_for(
            "the pod to run", lambda: skiff.get_json("pod", "e2e-rbac-mounter")["status"].get("phase") == "Running"
        )
        assert _run(kubelet_reads()) == {mounted: True, other: False}
    finally:
        _run(cleanup())


def test_controllers_write_as_their_service_accounts(skiff, cluster: LocalCluster) -> None:  # type: ignore[no-untyped-def]
    """A Deployment scales under RBAC; the audit log shows the ReplicaSet created by the
    deployment-controller and its pods by the replicaset-controller, not by the manager."""
    name = "e2e-rbac-web"
    skiff("create", "deployment", name, "--image=busybox", "--replicas=1", "--", "sleep", "3600")
    try:
        skiff("scale", "deployment", name, "--replicas=2")

        def ready() -> bool:
            status = skiff.get_json("deployment", name).get("status", {})
            return bool(status.get("readyReplicas") == 2)

        skiff.wait_for("2 ready replicas", ready, timeout=120)
        creators: dict[str, set[str]] = {}
        for line in (cluster.layout.state_dir / "audit" / "audit.log").read_text().splitlines():
            event = json.loads(line)
            ref = event.get("objectRef", {})
            done = event["stage"] == "ResponseComplete" and event.get("responseStatus", {}).get("code", 0) < 300
            if event["verb"] == "create" and done:  # (the matrix's refused dry runs are 403s)
                resource = ref.get("resource", "") + ("/" + ref["subresource"] if ref.get("subresource") else "")
                creators.setdefault(event["user"]["username"], set()).add(resource)
        sa = "system:serviceaccount:kube-system:"
        assert "replicasets" in creators.get(f"{sa}deployment-controller", set())
        assert "pods" in creators.get(f"{sa}replicaset-controller", set())
        # the manager itself made only ServiceAccounts, their tokens and its Lease
        assert creators["system:kube-controller-manager"] <= {"serviceaccounts", "serviceaccounts/token", "leases"}
    finally:
        skiff("delete", "deployment", name, check=False)
