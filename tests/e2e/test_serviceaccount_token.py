"""Issue 11 on a real `skiff up` cluster: a pod finds its ServiceAccount's credentials where Kubernetes
puts them, and they work.

ServiceAccount admission gives the pod `default` and the `kube-api-access-*` projected volume; the root
CA publisher has put `kube-root-ca.crt` in the namespace; the kubelet (as system:node:<n>, which the
Node authorizer lets request tokens only for pods bound to it) writes the token, ca.crt and namespace
under /var/run/secrets/kubernetes.io/serviceaccount. The token is then used from this process as a
bearer token on the apiserver's REST port: RBAC refuses the default ServiceAccount until a RoleBinding
grants it `view`.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root]

DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SEP = "=== "

READER = f"""apiVersion: v1
kind: Pod
metadata:
  name: reader
  namespace: {{ns}}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "for f in token ca.crt namespace; do echo '{SEP}'$f; cat {DIR}/$f; echo; done; sleep 3600"]
"""

OPTED_OUT = f"""apiVersion: v1
kind: Pod
metadata:
  name: no-token
  namespace: {{ns}}
spec:
  automountServiceAccountToken: false
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "[ -e {DIR} ] && echo present || echo absent; sleep 3600"]
"""

BINDING = """apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: default-view
  namespace: {ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- kind: ServiceAccount
  name: default
  namespace: {ns}
"""


def _files(log: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in log.split(SEP)[1:]:
        name, _, body = chunk.partition("\n")
        out[name.strip()] = body.rstrip("\n")
    return out


def _claims(token: str) -> dict:  # type: ignore[type-arg]
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def _get_status(cluster: LocalCluster, path: str, token: str) -> int:
    context = ssl.create_default_context(cafile=cluster.tls["admin"].ca_file)
    req = urllib.request.Request(cluster.layout.rest_url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_pod_reads_and_uses_its_serviceaccount_token(  # type: ignore[no-untyped-def]
    skiff, cluster: LocalCluster, namespace: str
) -> None:
    skiff.wait_for(
        "the default ServiceAccount",
        lambda: skiff("get", "sa", "default", "-n", namespace, check=False).returncode == 0,
    )
    skiff.apply_text(READER.format(ns=namespace))
    pod = skiff.running_pod("reader", namespace)
    assert pod["spec"]["serviceAccountName"] == "default"
    [vol] = [v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
    assert {"path": "token", "expirationSeconds": "3607"} == {
        k: str(v) for k, v in vol["projected"]["sources"][0]["serviceAccountToken"].items()
    }

    log = skiff.wait_for(
        "the pod's three files",
        lambda: (f := _files(skiff("logs", "reader", "-n", namespace).stdout)).get("namespace") and f,
    )
    assert log["namespace"] == namespace
    assert log["ca.crt"].strip() == Path(cluster.tls["admin"].ca_file).read_text().strip()
    token = log["token"].strip()
    claims = _claims(token)
    assert claims["sub"] == f"system:serviceaccount:{namespace}:default"
    k8s = claims["kubernetes.io"]
    assert (k8s["namespace"], k8s["serviceaccount"]["name"]) == (namespace, "default")
    assert (k8s["pod"]["name"], k8s["pod"]["uid"]) == ("reader", pod["metadata"]["uid"])
    assert k8s["node"]["name"] == cluster.layout.node_name

    pods = f"/api/v1/namespaces/{namespace}/pods"
    assert _get_status(cluster, pods, "not-a-token") == 401
    assert _get_status(cluster, pods, token) == 403  # authenticated, but the default SA may do nothing
    skiff.apply_text(BINDING.format(ns=namespace))
    skiff.wait_for("the RoleBinding to take effect", lambda: _get_status(cluster, pods, token) == 200)


def test_automount_false_gives_no_volume(skiff, namespace: str) -> None:  # type: ignore[no-untyped-def]
    skiff.wait_for(
        "the default ServiceAccount",
        lambda: skiff("get", "sa", "default", "-n", namespace, check=False).returncode == 0,
    )
    skiff.apply_text(OPTED_OUT.format(ns=namespace))
    pod = skiff.running_pod("no-token", namespace)
    assert not [v for v in pod["spec"].get("volumes", []) if v["name"].startswith("kube-api-access-")]
    assert (
        skiff.wait_for("the pod's output", lambda: skiff("logs", "no-token", "-n", namespace).stdout).strip()
        == "absent"
    )
