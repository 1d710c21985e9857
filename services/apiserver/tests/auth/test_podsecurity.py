# ruff: noqa: E501  (expected messages are Kubernetes' sentences, kept whole)
"""Pod Security admission: the standard's checks per level (pure), and on a real apiserver the namespace
labels enforce (refusals), warn (kubectl prints the warning) and leave workload templates to warnings.
The escape attempts of the issue -- hostPath "/", hostPID, hostNetwork, SYS_ADMIN, privileged, an
Unconfined seccomp profile, an unsafe sysctl -- are each refused at baseline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml
from rbac_helpers import attempt, create
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import namespace_pb2, pod_pb2
from skiff_apiserver.admission.podsecurity.checks import evaluate
from skiff_apiserver.machinery import convert

MASTERS = ("system:masters",)


def pod(**spec: Any) -> Any:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}  # fmt: skip
    return convert.from_dict(body)


def c(**security: Any) -> list[dict[str, Any]]:
    return [{"name": "c", "image": "busybox", "securityContext": security}]


RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": c(allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
}


@pytest.mark.parametrize(
    ("spec", "baseline", "restricted"),
    [
        ({}, [], [
            'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)',
            'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"])',
            'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)',
            'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
        ]),
        (RESTRICTED_OK, [], []),
        ({"hostNetwork": True, "hostPID": True}, ["host namespaces (hostNetwork=true, hostPID=true)"], None),
        ({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}, ['hostPath volumes (volume "root")'], None),
        ({"containers": c(privileged=True)}, ['privileged (container "c" must not set securityContext.privileged=true)'], None),
        ({"containers": c(capabilities={"add": ["SYS_ADMIN", "CHOWN"]})},
         ['non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)'], None),
        ({"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
         ['seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")'], None),
        ({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}}, ["forbidden sysctls (kernel.msgmax)"], None),
        ({"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80, "hostPort": 8080}]}]},
         ['hostPort (container "c" uses hostPort 8080)'], None),
        ({**RESTRICTED_OK, "hostUsers": False, "securityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}},
         [], []),  # in a user namespace root is an unprivileged host user: runAsNonRoot/runAsUser relaxed
        ({**RESTRICTED_OK, "hostUsers": True, "securityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}},
         [], ['runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)',
              "runAsUser=0 (pod must not set runAsUser=0)"]),
        ({"hostUsers": False, "containers": c(capabilities={"add": ["SYS_ADMIN"]})},  # not relaxed, as in Kubernetes
         ['non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)'], None),
        ({"containers": c(procMount="Unmasked")},
         ['procMount (container "c" must not set securityContext.procMount to "Unmasked")'], None),
    ],
)  # fmt: skip
def test_levels(spec: dict[str, Any], baseline: list[str], restricted: list[str] | None) -> None:
    p = pod(**spec)
    assert evaluate("privileged", p.spec) == []
    assert evaluate("baseline", p.spec) == baseline
    got = evaluate("restricted", p.spec)
    if restricted is not None:
        assert got == restricted
    else:
        assert got  # what baseline forbids, restricted forbids too (sometimes by a stricter check's words)


async def _namespace(admin: Any, name: str, **labels: str) -> None:
    ns = namespace_pb2.Namespace()
    ns.metadata.name = name
    for mode, level in labels.items():
        ns.metadata.labels[f"pod-security.kubernetes.io/{mode}"] = level
    await create(admin, ns)
    await asyncio.sleep(0.2)  # admission reads the namespace from the watch cache


async def test_enforce_baseline_refuses_escapes(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    await _namespace(admin, "locked", enforce="baseline")
    escapes = {
        "host-root": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
        "host-pid": {"hostPID": True},
        "host-net": {"hostNetwork": True},
        "sys-admin": {"containers": c(capabilities={"add": ["SYS_ADMIN"]})},
        "privileged": {"containers": c(privileged=True)},
        "unconfined": {"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
        "sysctl": {"securityContext": {"sysctls": [{"name": "kernel.core_pattern", "value": "|/x"}]}},
    }
    for name, spec in escapes.items():
        p = pod(**spec)
        p.metadata.name, p.metadata.namespace = name, "locked"
        ok, msg = await attempt(create(admin, p))
        assert not ok, name
        assert msg.startswith(f'pods "{name}" is forbidden: violates PodSecurity "baseline:latest": '), msg
    ok, msg = await attempt(create(admin, _named(pod(), "fine", "locked")))
    assert ok, msg
    # a Deployment is not refused: its pods will be
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace = "web", "locked"
    d.spec.selector.match_labels["a"] = "b"
    d.spec.template.metadata.labels["a"] = "b"
    d.spec.template.spec.CopyFrom(pod(hostNetwork=True).spec)
    assert (await attempt(create(admin, d)))[0]


def _named(p: pod_pb2.Pod, name: str, namespace: str) -> pod_pb2.Pod:
    p.metadata.name, p.metadata.namespace = name, namespace
    return p


async def test_kubectl_shows_the_warning(secure) -> None:
    from test_rest_authz import _kubectl

    admin = secure.as_user("kubernetes-admin", MASTERS)
    await _namespace(admin, "watched", warn="restricted")
    manifest = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain", "namespace": "watched"},
         "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}
    )  # fmt: skip
    path = secure.pki.parent / "plain.yaml"
    path.write_text(manifest)
    out = await asyncio.to_thread(_kubectl, secure, "root", MASTERS, "apply", "-f", str(path))
    assert out.returncode == 0, out.stderr
    assert (
        'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container '
        '"nginx" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container '
        '"nginx" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container '
        '"nginx" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "nginx" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    ) in out.stderr
    assert "pod/plain created" in out.stdout
