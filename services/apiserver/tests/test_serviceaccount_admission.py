"""ServiceAccount admission: the pure rules as tables, and the plugin through real creates on a real
apiserver (here it is turned on; the shared fixture turns it off, having no serviceaccount controller)."""

from __future__ import annotations

import grpc
import pytest
from apiserver_testlib import create, expect_error, pod, uniq
from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff.api.core.v1 import pod_pb2, serviceaccount_pb2
from skiff_apiserver.admission import serviceaccount as sa_admission
from skiff_apiserver.admission.noderestriction import check_token_request
from skiff_apiserver.auth import user as users
from skiff_apiserver.registry.strategies.podspec import validate_projected
from skiff_common import errors

MOUNT = sa_admission.MOUNT_PATH


def _sa(automount: bool | None = None) -> serviceaccount_pb2.ServiceAccount:
    sa = serviceaccount_pb2.ServiceAccount()
    if automount is not None:
        sa.automount_service_account_token = automount
    return sa


@pytest.mark.parametrize(
    ("on_pod", "on_sa", "expected"),
    [(None, None, True), (None, False, False), (True, False, True), (False, True, False), (False, None, False)],
)
def test_the_pod_setting_wins_over_the_serviceaccount(on_pod: bool | None, on_sa: bool | None, expected: bool) -> None:
    p = pod("x")
    if on_pod is not None:
        p.spec.automount_service_account_token = on_pod
    assert sa_admission.should_automount(_sa(on_sa), p) is expected


def _access_volumes(p: pod_pb2.Pod) -> list[str]:
    return [v.name for v in p.spec.volumes if v.name.startswith(sa_admission.VOLUME_PREFIX)]


def test_the_volume_has_kubernetes_sources_and_every_container_mounts_it() -> None:
    p = pod("x")
    p.spec.init_containers.add(name="init", image="busybox")
    sa_admission.mount_token(p)
    [name] = _access_volumes(p)
    assert len(name) == len(sa_admission.VOLUME_PREFIX) + 5
    proj = p.spec.volumes[-1].projected
    assert proj.default_mode == 0o644
    token, ca, ns = proj.sources
    assert (token.service_account_token.path, token.service_account_token.expiration_seconds) == ("token", 3607)
    assert ca.config_map.name == "kube-root-ca.crt"
    assert [(i.key, i.path) for i in ca.config_map.items] == [("ca.crt", "ca.crt")]
    assert [(i.path, i.field_ref.field_path) for i in ns.downward_api.items] == [("namespace", "metadata.namespace")]
    for c in [*p.spec.init_containers, *p.spec.containers]:
        [m] = [m for m in c.volume_mounts if m.mount_path == MOUNT]
        assert (m.name, m.read_only) == (name, True)
    assert validate_projected(proj, "spec.volumes[0].projected") == []


def test_a_container_mounting_the_path_itself_is_left_alone() -> None:
    p = pod("x")
    p.spec.containers[0].volume_mounts.add(name="mine", mount_path=MOUNT)
    p.spec.containers.add(name="other", image="busybox")
    sa_admission.mount_token(p)
    assert [m.name for m in p.spec.containers[0].volume_mounts] == ["mine"]
    assert [m.name for m in p.spec.containers[1].volume_mounts] == _access_volumes(p)
    sa_admission.mount_token(p)  # idempotent: a pod that has it is not given a second one
    assert len(_access_volumes(p)) == 1


def test_projected_validation_names_the_field() -> None:
    src = sa_admission.api_access_volume("v").projected
    src.sources[0].service_account_token.expiration_seconds = 60
    src.sources[0].service_account_token.path = ""
    src.sources[1].secret.name = "also"  # two sources in one projection
    src.default_mode = 0o1777
    fields = {e.path for e in validate_projected(src, "p")}
    assert fields == {
        "p.defaultMode",
        "p.sources[0].serviceAccountToken.path",
        "p.sources[0].serviceAccountToken.expirationSeconds",
        "p.sources[1]",
    }


@pytest.fixture
async def sa_api(server_factory: object) -> object:
    return await server_factory(disable_admission_plugins=[])  # type: ignore[operator]


async def _make_sa(api, name: str, automount: bool | None = None) -> None:  # type: ignore[no-untyped-def]
    sa = _sa(automount)
    sa.metadata.name, sa.metadata.namespace = name, "default"
    await create(api.stub, sa)


async def test_a_pod_gets_default_and_the_api_access_volume(sa_api) -> None:  # type: ignore[no-untyped-def]
    await _make_sa(sa_api, "default")
    created = await create(sa_api.stub, pod(uniq("sa")))
    assert created.spec.service_account_name == "default"
    assert len(_access_volumes(created)) == 1
    assert [m.mount_path for m in created.spec.containers[0].volume_mounts] == [MOUNT]


async def test_opting_out_on_the_pod_or_the_serviceaccount(sa_api) -> None:  # type: ignore[no-untyped-def]
    await _make_sa(sa_api, "quiet", automount=False)
    quiet = pod(uniq("sa"))
    quiet.spec.service_account_name = "quiet"
    assert _access_volumes(await create(sa_api.stub, quiet)) == []
    await _make_sa(sa_api, "default")
    off = pod(uniq("sa"))
    off.spec.automount_service_account_token = False
    assert _access_volumes(await create(sa_api.stub, off)) == []


async def test_a_missing_serviceaccount_is_forbidden(sa_api) -> None:  # type: ignore[no-untyped-def]
    p = pod(uniq("sa"))
    p.spec.service_account_name = "nobody"
    err = await expect_error(grpc.StatusCode.PERMISSION_DENIED, create(sa_api.stub, p))
    assert "error looking up service account default/nobody" in str(err)


@pytest.mark.parametrize(
    ("kind", "uid", "on_node", "refusal"),
    [
        ("Pod", "u1", "n1", None),
        ("Secret", "u1", "n1", "not bound to a pod"),
        ("Pod", "", "n1", "without a uid"),
        ("Pod", "u1", "n2", "scheduled on a different node"),
    ],
)
def test_a_kubelet_gets_tokens_only_for_pods_on_its_node(
    kind: str, uid: str, on_node: str, refusal: str | None
) -> None:
    """NodeRestriction's TokenRequest rule (the tokens the kubelet writes into kube-api-access-* volumes)."""
    ref = an.BoundObjectReference(kind=kind, name="p", uid=uid)
    bound = pod("p")
    bound.spec.node_name = on_node
    users.set_current(users.UserInfo("system:node:n1", ("system:nodes",)))
    try:
        if refusal is None:
            check_token_request(ref, bound if kind == "Pod" else None)
        else:
            with pytest.raises(errors.Forbidden, match=refusal):
                check_token_request(ref, bound if kind == "Pod" else None)
    finally:
        users.set_current(None)
    check_token_request(ref, None)  # not a node: nothing to check here (RBAC decides)
