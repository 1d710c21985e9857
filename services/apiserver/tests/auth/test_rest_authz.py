"""Authorization on the REST port, seen through real kubectl (1.33) and plain HTTPS: refusals as kubectl
prints them, `kubectl auth can-i` (SelfSubjectAccessReview, and --list: SelfSubjectRulesReview),
SubjectAccessReview, and anonymous requests limited to health and version."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
from typing import Any

import aiohttp
import pytest
from rbac_helpers import binding, create_seen
from rest_testlib import kubectl_binary, write_kubeconfig

MASTERS = ("system:masters",)


def _kubectl(secure: Any, user: str, groups: tuple[str, ...], *args: str) -> subprocess.CompletedProcess[str]:
    home = secure.pki.parent / f"home-{user.replace(':', '-')}"
    home.mkdir(exist_ok=True)
    config = home / "config"
    write_kubeconfig(config, secure.rest_url, secure.cert(user, groups))
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(home)}
    return subprocess.run([kubectl_binary("1.33"), *args], capture_output=True, text=True, env=env, timeout=60)


async def kubectl(secure: Any, user: str, groups: tuple[str, ...], *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl in a thread: the apiserver serves it from this test's event loop."""
    return await asyncio.to_thread(_kubectl, secure, user, groups, *args)


async def test_kubectl_forbidden_message(secure) -> None:
    out = await kubectl(secure, "nobody", (), "get", "pods")
    assert out.returncode != 0
    assert (
        'Error from server (Forbidden): pods is forbidden: User "nobody" cannot list resource "pods" in API group "" '
        'in the namespace "default"'
    ) in out.stderr
    out = await kubectl(secure, "nobody", (), "get", "deployment", "web", "-n", "prod")
    assert (
        'deployments.apps "web" is forbidden: User "nobody" cannot get resource "deployments" in API group "apps" '
        'in the namespace "prod"'
    ) in out.stderr
    assert (await kubectl(secure, "root", MASTERS, "get", "pods")).returncode == 0


async def test_kubectl_auth_can_i(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    await create_seen(secure, admin, binding("frank-view", "default", "ClusterRole", "view", ("User", "frank")))

    def ask(*a: str) -> Any:
        return kubectl(secure, "frank", (), "auth", "can-i", *a)

    yes = await ask("list", "pods")
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes")
    no = await ask("delete", "pods")
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    assert (await ask("list", "pods", "-n", "kube-system")).stdout.strip() == "no"
    assert (await ask("get", "secrets")).stdout.strip() == "no"
    assert (await ask("list", "deployments.apps")).stdout.strip() == "yes"
    assert (await kubectl(secure, "root", MASTERS, "auth", "can-i", "delete", "nodes")).stdout.strip() == "yes"
    listed = await ask("--list", "-n", "default")
    assert listed.returncode == 0, listed.stderr
    assert "pods " in listed.stdout and "selfsubjectaccessreviews.authorization.k8s.io" in listed.stdout


def _ssl(secure: Any, user: str | None, groups: tuple[str, ...] = ()) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(secure.pki / "ca.crt"))
    if user is not None:
        tls = secure.cert(user, groups)
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    return ctx


async def test_subject_access_review(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    await create_seen(secure, admin, binding("gina-edit", "default", "ClusterRole", "edit", ("User", "gina")))
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "gina",
            "resourceAttributes": {
                "verb": "create",
                "resource": "deployments",
                "group": "apps",
                "namespace": "default",
            },
        },
    }
    url = secure.rest_url + "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=review, ssl=_ssl(secure, "root", MASTERS)) as resp:
            assert resp.status == 201
            body = await resp.json()
        assert body["status"]["allowed"] is True
        assert (
            body["status"]["reason"]
            == 'RBAC: allowed by RoleBinding "gina-edit/default" of ClusterRole "edit" to User "gina"'
        )
        review["spec"]["resourceAttributes"]["namespace"] = "other"
        async with http.post(url, json=review, ssl=_ssl(secure, "root", MASTERS)) as resp:
            assert (await resp.json())["status"].get("allowed", False) is False
        # asking about others needs create on subjectaccessreviews, which gina lacks
        async with http.post(url, json=review, ssl=_ssl(secure, "gina")) as resp:
            assert resp.status == 403
            body = await resp.json()
        assert body["reason"] == "Forbidden"
        assert body["message"] == (
            'subjectaccessreviews.authorization.k8s.io is forbidden: User "gina" cannot create resource '
            '"subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope'
        )


@pytest.mark.parametrize(
    ("path", "status"), [("/healthz", 200), ("/version", 200), ("/livez", 200), ("/api/v1/pods", 401), ("/apis", 401)]
)
async def test_anonymous_only_health_and_version(secure, path: str, status: int) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(secure.rest_url + path, ssl=_ssl(secure, None)) as resp:
            assert resp.status == status, await resp.text()


async def test_non_resource_paths_are_authorized(secure) -> None:
    """/metrics is system:monitoring's; discovery is every authenticated user's."""
    async with aiohttp.ClientSession() as http:
        async with http.get(secure.rest_url + "/metrics", ssl=_ssl(secure, "nobody")) as resp:
            assert resp.status == 403
            assert json.loads(await resp.text())["message"] == 'forbidden: User "nobody" cannot get path "/metrics"'
        async with http.get(secure.rest_url + "/metrics", ssl=_ssl(secure, "prom", ("system:monitoring",))) as resp:
            assert resp.status == 200
        async with http.get(secure.rest_url + "/apis", ssl=_ssl(secure, "nobody")) as resp:
            assert resp.status == 200


async def test_kubectl_auth_whoami(secure) -> None:
    out = await kubectl(secure, "jane", ("dev", "ops"), "auth", "whoami", "-o", "json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)["status"]["userInfo"]
    assert info["username"] == "jane"
    assert info["groups"] == ["dev", "ops", "system:authenticated"]
