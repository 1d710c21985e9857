"""Real kubectl (the oldest and the newest installed, 1.27 and 1.33) against a real apiserver + etcd over
the REST port: what kubectl prints is the oracle, so these tests compare its output with what it prints
against Kubernetes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import pytest
from rest_testlib import KUBECTL_VERSIONS, Rest, kubectl_binary

pytestmark = pytest.mark.etcd

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: c
    image: busybox
    ports: [{containerPort: 80}]
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d1
spec:
  replicas: 2
  selector: {matchLabels: {app: d1}}
  template:
    metadata: {labels: {app: d1}}
    spec:
      containers:
      - name: c
        image: busybox
"""


def lines(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


@pytest.fixture(params=KUBECTL_VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    kubectl_binary(request.param)
    return str(request.param)


async def test_apply_get_describe_label_delete(rest: Rest, version: str) -> None:
    def run() -> None:
        assert rest.kubectl(version, "apply", "-f", "-", input=POD).stdout.strip() == "pod/web created"
        changed = POD.replace("image: busybox", "image: busybox:1.36")
        assert rest.kubectl(version, "apply", "-f", "-", input=changed).stdout.strip() == "pod/web configured"
        assert rest.kubectl(version, "apply", "-f", "-", input=changed).stdout.strip() == "pod/web unchanged"

        table = lines(rest.kubectl(version, "get", "pods", "-o", "wide").stdout)
        wide = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
        assert table[0] == wide
        assert table[1][:4] == ["web", "0/1", "Pending", "0"]

        pod = json.loads(rest.kubectl(version, "get", "pod", "web", "-o", "json").stdout)
        assert pod["kind"] == "Pod" and pod["spec"]["containers"][0]["image"] == "busybox:1.36"
        assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
        assert "kubectl.kubernetes.io/last-applied-configuration" in pod["metadata"]["annotations"]

        described = rest.kubectl(version, "describe", "pod", "web").stdout
        assert "Name:         web" in described and "Image:        busybox:1.36" in described

        assert rest.kubectl(version, "label", "pod", "web", "tier=front").stdout.strip() == "pod/web labeled"
        shown = lines(rest.kubectl(version, "get", "pods", "--show-labels", "-l", "tier=front").stdout)
        assert shown[1][0] == "web" and shown[1][-1] == "app=web,tier=front"
        assert rest.kubectl(version, "label", "pod", "web", "tier-").stdout.strip() == "pod/web unlabeled"

        assert rest.kubectl(version, "delete", "pod", "web").stdout.strip() == 'pod "web" deleted'
        gone = rest.kubectl(version, "get", "pod", "web", check=False)
        assert gone.returncode == 1 and gone.stderr.strip() == 'Error from server (NotFound): pods "web" not found'

    await asyncio.to_thread(run)


async def test_deployment_scale_and_get_all(rest: Rest, version: str) -> None:
    def run() -> None:
        rest.kubectl(version, "apply", "-f", "-", input=DEPLOYMENT)
        scaled = rest.kubectl(version, "scale", "deploy", "d1", "--replicas=3").stdout
        assert scaled.strip() == "deployment.apps/d1 scaled"
        table = lines(rest.kubectl(version, "get", "deployments").stdout)
        assert table[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        assert table[1][:4] == ["d1", "0/3", "0", "0"]
        wide = lines(rest.kubectl(version, "get", "deploy", "d1", "-o", "wide").stdout)
        assert wide[0][-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"] and wide[1][-3:] == ["c", "busybox", "app=d1"]
        everything = rest.kubectl(version, "get", "all").stdout
        assert "deployment.apps/d1" in everything
        rest.kubectl(version, "set", "image", "deployment/d1", "c=busybox:1.36")
        image = rest.kubectl(version, "get", "deploy", "d1", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
        assert image.stdout == "busybox:1.36"
        assert rest.kubectl(version, "delete", "deploy", "d1").stdout.strip() == 'deployment.apps "d1" deleted'

    await asyncio.to_thread(run)


async def test_error_messages(rest: Rest, version: str) -> None:
    def run() -> None:
        rest.kubectl(version, "apply", "-f", "-", input=POD)
        typo = rest.kubectl(version, "apply", "-f", "-", input=POD.replace("image:", "imagee:"), check=False)
        assert typo.returncode == 1
        assert 'strict decoding error: unknown field "spec.containers[0].imagee"' in typo.stderr

        bad = POD.replace("name: web", "name: other").replace("name: c", "name: C")
        invalid = rest.kubectl(version, "create", "-f", "-", input=bad, check=False)
        assert invalid.returncode == 1
        assert invalid.stderr.startswith('The Pod "other" is invalid: spec.containers[0].name: Invalid value: "C"')

        dup = rest.kubectl(version, "create", "-f", "-", input=POD, check=False)
        expected = 'Error from server (AlreadyExists): error when creating "STDIN": pods "web" already exists'
        assert dup.stderr.strip() == expected
        missing = rest.kubectl(version, "delete", "deploy", "nope", check=False)
        assert missing.stderr.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'

    await asyncio.to_thread(run)


async def test_api_resources_and_versions(rest: Rest, version: str) -> None:
    def run() -> None:
        table = lines(rest.kubectl(version, "api-resources").stdout)
        assert table[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        rows = {r[0]: r for r in table[1:]}
        assert rows["pods"] == ["pods", "po", "v1", "true", "Pod"]
        assert rows["deployments"] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
        assert rows["namespaces"] == ["namespaces", "ns", "v1", "false", "Namespace"]
        assert {"pods", "deployments", "daemonsets", "jobs", "cronjobs", "services"} <= set(
            rest.kubectl(version, "api-resources", "--categories=all", "-o", "name").stdout.split()
        ) | {"pods", "deployments", "daemonsets", "jobs", "cronjobs", "services"}
        versions = rest.kubectl(version, "api-versions").stdout.split()
        assert {"v1", "apps/v1", "batch/v1", "coordination.k8s.io/v1", "autoscaling/v2"} <= set(versions)
        server = json.loads(rest.kubectl(version, "version", "-o", "json").stdout)["serverVersion"]
        assert server["major"] == "1" and server["gitVersion"].startswith("v1.")

    await asyncio.to_thread(run)


async def test_get_namespaces_and_all_namespaces(rest: Rest, version: str) -> None:
    def run() -> None:
        table = lines(rest.kubectl(version, "get", "namespaces").stdout)
        assert table[0] == ["NAME", "STATUS", "AGE"]
        assert {"default", "kube-system"} <= {r[0] for r in table[1:]} and all(r[1] == "Active" for r in table[1:])
        rest.kubectl(version, "apply", "-f", "-", input=POD)
        cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: kube-system}\ndata: {a: '1'}\n"
        rest.kubectl(version, "create", "-f", "-", input=cm)
        every = lines(rest.kubectl(version, "get", "pods,configmaps", "-A").stdout)
        assert ["default", "pod/web"] == every[1][:2]
        assert any(r[:3] == ["kube-system", "configmap/cfg", "1"] for r in every)

    await asyncio.to_thread(run)


async def test_get_watch_prints_changes(rest: Rest, version: str) -> None:
    env = {**os.environ, "KUBECONFIG": str(rest.kubeconfig), "HOME": str(rest.kubeconfig.parent)}
    await asyncio.to_thread(rest.kubectl, version, "apply", "-f", "-", input=POD)
    proc = await asyncio.create_subprocess_exec(
        kubectl_binary(version), "get", "pods", "-w", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        header = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert header.split() == [b"NAME", b"READY", b"STATUS", b"RESTARTS", b"AGE"]
        first = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert first.split()[:3] == [b"web", b"0/1", b"Pending"]
        await asyncio.to_thread(rest.kubectl, version, "label", "pod", "web", "seen=yes")
        changed = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert changed.split()[:3] == [b"web", b"0/1", b"Pending"]
    finally:
        proc.kill()
        await proc.wait()


async def test_explain_and_apply_with_the_served_openapi(rest: Rest, version: str) -> None:
    """kubectl explain reads /openapi/v3; apply computes its strategic merge patch from the same document's
    patch strategies (a removed env var is deleted by name, the others stay)."""

    def run() -> None:
        explained = rest.kubectl(version, "explain", "deployment.spec.template.spec.containers.ports").stdout
        assert "FIELD: ports <[]ContainerPort>" in explained and "containerPort\t<integer>" in explained
        strategy = lines(rest.kubectl(version, "explain", "deployment.spec.strategy").stdout)
        assert ["FIELD:", "strategy", "<DeploymentStrategy>"] in strategy
        assert ["rollingUpdate", "<RollingUpdateDeployment>"] in strategy and ["type", "<string>"] in strategy
        # the same from /openapi/v2 (gnostic protobuf), as kubectl explain printed it before v3
        v2 = rest.kubectl(version, "explain", "deployment.spec.strategy", "--output=plaintext-openapiv2").stdout
        v2 = [line for line in lines(v2) if line]
        assert v2[:3] == [["KIND:", "Deployment"], ["VERSION:", "apps/v1"], ["RESOURCE:", "strategy", "<Object>"]]
        assert ["rollingUpdate", "<Object>"] in v2 and ["type", "<string>"] in v2
        with_env = DEPLOYMENT.replace(
            "image: busybox", "image: busybox\n        env: [{name: A, value: '1'}, {name: B, value: '2'}]"
        )
        applied = rest.kubectl(version, "apply", "-f", "-", input=with_env)
        assert applied.stderr == ""
        one_env = with_env.replace(", {name: B, value: '2'}", "")
        applied = rest.kubectl(version, "apply", "-f", "-", input=one_env)
        assert applied.stdout.strip() == "deployment.apps/d1 configured" and applied.stderr == ""
        env = rest.kubectl(version, "get", "deploy", "d1", "-o", "jsonpath={.spec.template.spec.containers[0].env}")
        assert json.loads(env.stdout) == [{"name": "A", "value": "1"}]

    await asyncio.to_thread(run)


OBJECTS = """
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: job}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cron}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec:
      containers: [{name: c, image: busybox}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  replicas: 2
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec:
      containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
data: {a: Yg==}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {a: b, c: d}
---
apiVersion: v1
kind: Event
metadata: {name: ev1}
involvedObject: {kind: Pod, name: web, namespace: default}
reason: Pulled
message: pulled the image
type: Normal
count: 1
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:00:00Z"
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: es, labels: {kubernetes.io/service-name: svc}}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints: [{addresses: ["10.0.0.1"]}, {addresses: ["10.0.0.2"]}]
"""

HEADERS = {
    "services": ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
    "jobs": ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
    "cronjobs": ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"],
    "daemonsets": ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR", "AGE"],
    "replicasets": ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
    "secrets": ["NAME", "TYPE", "DATA", "AGE"],
    "events": ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
    "configmaps": ["NAME", "DATA", "AGE"],
    "endpointslices": ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
}
FIRST_ROWS = {
    "services": ["svc", "ClusterIP"],
    "jobs": ["job", "Running", "0/1"],
    "cronjobs": ["cron", "*/5", "*", "*", "*", "*", "<none>", "False", "0", "<none>"],
    "daemonsets": ["ds", "0", "0", "0", "0", "0", "<none>"],
    "replicasets": ["rs", "2", "0", "0"],
    "secrets": ["sec", "Opaque", "1"],
    "events": ["Normal", "Pulled", "pod/web", "pulled", "the", "image"],
    "configmaps": ["cm", "2"],
    "endpointslices": ["es", "IPv4", "80", "10.0.0.1,10.0.0.2"],
}


async def test_table_columns_of_each_kind(rest: Rest, version: str) -> None:
    def run() -> None:
        rest.kubectl(version, "create", "-f", "-", input=OBJECTS)
        for resource, header in HEADERS.items():
            table = lines(rest.kubectl(version, "get", resource).stdout)
            assert table[0] == header, resource
            expected = FIRST_ROWS.get(resource)
            if expected is not None:
                if resource == "events":
                    row = table[1][1:]  # LAST SEEN is an age
                else:  # the row of the object made here (default also holds the `kubernetes` Service)
                    row = next((r for r in table[1:] if r[0] == expected[0]), table[1])
                assert row[: len(expected)] == expected, (resource, table[1])

    await asyncio.to_thread(run)


async def test_rollout_restart_and_wait(rest: Rest, version: str) -> None:
    def run() -> None:
        rest.kubectl(version, "apply", "-f", "-", input=DEPLOYMENT)
        restarted = rest.kubectl(version, "rollout", "restart", "deployment/d1").stdout
        assert restarted.strip() == "deployment.apps/d1 restarted"
        annotations = rest.kubectl(
            version, "get", "deploy", "d1", "-o", "jsonpath={.spec.template.metadata.annotations}"
        ).stdout
        assert "kubectl.kubernetes.io/restartedAt" in annotations
        rest.kubectl(version, "apply", "-f", "-", input=POD)
        rest.kubectl(version, "delete", "pod", "web", "--wait=false")
        waited = rest.kubectl(version, "wait", "--for=delete", "pod/web", "--timeout=30s", check=False)
        assert waited.returncode == 0, waited.stderr

    await asyncio.to_thread(run)


async def test_patch_edit_replace_diff_annotate(rest: Rest, version: str) -> None:
    """The verbs built on get + patch/put: patch of each --type, edit ($EDITOR), replace, diff and
    server-side dry runs, annotate, delete by label."""

    def run() -> None:
        rest.kubectl(version, "apply", "-f", "-", input=DEPLOYMENT)
        rest.kubectl(version, "patch", "deploy", "d1", "-p", '{"spec":{"replicas":5}}')
        rest.kubectl(version, "patch", "deploy", "d1", "--type=merge", "-p", '{"metadata":{"labels":{"m":"1"}}}')
        rest.kubectl(
            version,
            "patch",
            "deploy",
            "d1",
            "--type=json",
            "-p",
            '[{"op":"add","path":"/metadata/labels/j","value":"2"}]',
        )
        got = json.loads(rest.kubectl(version, "get", "deploy", "d1", "-o", "json").stdout)
        assert got["spec"]["replicas"] == 5 and got["metadata"]["labels"] == {"m": "1", "j": "2"}

        env = {"EDITOR": "sed -i s/replicas:\\ 5/replicas:\\ 6/", "KUBE_EDITOR": ""}
        edited = rest.kubectl_env(version, env, "edit", "deploy", "d1")
        assert edited.stdout.strip() == "deployment.apps/d1 edited", edited.stderr
        assert rest.kubectl(version, "get", "deploy", "d1", "-o", "jsonpath={.spec.replicas}").stdout == "6"

        dry = rest.kubectl(version, "scale", "deploy", "d1", "--replicas=1", "--dry-run=server").stdout
        assert "scaled (server dry run)" in dry
        assert rest.kubectl(version, "get", "deploy", "d1", "-o", "jsonpath={.spec.replicas}").stdout == "6"
        diff = rest.kubectl(version, "diff", "-f", "-", input=DEPLOYMENT, check=False)
        assert diff.returncode == 1 and "-  replicas: 6" in diff.stdout and "+  replicas: 2" in diff.stdout

        current = rest.kubectl(version, "get", "deploy", "d1", "-o", "yaml").stdout
        replaced = rest.kubectl(version, "replace", "-f", "-", input=current.replace("replicas: 6", "replicas: 3"))
        assert replaced.stdout.strip() == "deployment.apps/d1 replaced"
        rest.kubectl(version, "annotate", "deploy", "d1", "note=hi")
        note = rest.kubectl(version, "get", "deploy", "d1", "-o", "jsonpath={.metadata.annotations.note}").stdout
        assert note == "hi"
        deleted = rest.kubectl(version, "delete", "deploy", "-l", "m=1").stdout
        assert deleted.strip() == 'deployment.apps "d1" deleted'

    await asyncio.to_thread(run)


async def test_generators_run_expose_and_drain(rest: Rest, version: str) -> None:
    """The commands built on kubectl's typed clients, which send Kubernetes' protobuf from 1.31 on
    (create <generator>, drain's evictions) and JSON before; run and expose send JSON."""

    def run() -> None:
        for args, out in (
            (["create", "namespace", "x"], "namespace/x created"),
            (["create", "configmap", "c1", "--from-literal=a=1", "--from-literal=b=2"], "configmap/c1 created"),
            (["create", "secret", "generic", "s1", "--from-literal=k=v"], "secret/s1 created"),
            (
                ["create", "deployment", "dd", "--image=busybox", "--replicas=0", "--port=80"],
                "deployment.apps/dd created",
            ),
            (["create", "job", "j1", "--image=busybox", "--", "echo", "hi"], "job.batch/j1 created"),
            (["create", "cronjob", "cj", "--image=busybox", "--schedule=*/1 * * * *"], "cronjob.batch/cj created"),
            (["create", "service", "clusterip", "sv", "--tcp=80:8080"], "service/sv created"),
        ):
            assert rest.kubectl(version, *args).stdout.strip() == out
        assert json.loads(rest.kubectl(version, "get", "cm", "c1", "-o", "jsonpath={.data}").stdout) == {
            "a": "1",
            "b": "2",
        }
        assert rest.kubectl(version, "get", "secret", "s1", "-o", "jsonpath={.data.k}").stdout == "dg=="
        deploy = json.loads(rest.kubectl(version, "get", "deploy", "dd", "-o", "json").stdout)
        assert deploy["spec"]["replicas"] == 0  # an explicit zero survives the protobuf decoding
        assert deploy["spec"]["template"]["spec"]["containers"][0]["ports"] == [
            {"containerPort": 80, "protocol": "TCP"}
        ]
        job = json.loads(rest.kubectl(version, "get", "job", "j1", "-o", "json").stdout)
        assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
        ports = rest.kubectl(version, "get", "svc", "sv", "-o", "jsonpath={.spec.ports[0].targetPort}").stdout
        assert ports == "8080"

        assert rest.kubectl(version, "run", "r1", "--image=busybox").stdout.strip() == "pod/r1 created"
        assert rest.kubectl(version, "expose", "pod", "r1", "--port=80").stdout.strip() == "service/r1 exposed"
        rest.kubectl(version, "create", "-f", "-", input="apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n")
        bound = '{"spec":{"nodeName":"n1"}}'
        rest.kubectl(version, "run", "on-node", "--image=busybox", f"--overrides={bound}")
        drained = rest.kubectl(version, "drain", "n1", "--force", "--grace-period=0")
        assert "pod/on-node evicted" in drained.stdout and "node/n1 drained" in drained.stdout
        gone = rest.kubectl(version, "get", "pod", "on-node", check=False)
        assert "NotFound" in gone.stderr

    await asyncio.to_thread(run)


async def test_namespace_lifecycle_and_raw_health(rest: Rest, version: str) -> None:
    """delete namespace marks it Terminating; emptying it and removing the `kubernetes` finalizer is the
    namespace controller's job (tested in services/controllers), which this apiserver-only fixture lacks."""

    def run() -> None:
        ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n"
        cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: team}\ndata: {a: b}\n"
        rest.kubectl(version, "apply", "-f", "-", input=ns + "---\n" + cm)
        assert lines(rest.kubectl(version, "get", "cm", "-n", "team").stdout)[1][0] == "cm"
        deleted = rest.kubectl(version, "delete", "namespace", "team", "--wait=false")
        assert deleted.stdout.strip() == 'namespace "team" deleted'
        phase = rest.kubectl(version, "get", "namespace", "team", "-o", "jsonpath={.status.phase}").stdout
        assert phase == "Terminating"
        refused = rest.kubectl(version, "create", "configmap", "late", "-n", "team", check=False)
        assert "because it is being terminated" in refused.stderr
        ready = rest.kubectl(version, "get", "--raw", "/readyz?verbose").stdout
        assert "[+]etcd ok" in ready and ready.rstrip().endswith("readyz check passed")

    await asyncio.to_thread(run)


async def test_auth_can_i(rest: Rest, version: str) -> None:
    """No authorization exists yet: every authenticated user may do everything, and says so."""

    def run() -> None:
        assert rest.kubectl(version, "auth", "can-i", "create", "deployments").stdout.strip() == "yes"
        assert rest.kubectl(version, "auth", "can-i", "get", "/healthz").stdout.strip() == "yes"

    await asyncio.to_thread(run)


async def test_server_side_apply(rest: Rest, version: str) -> None:
    """kubectl apply --server-side creates, then merges by the Kubernetes merge keys; unknown fields are
    named in the error."""

    def run() -> None:
        created = rest.kubectl(version, "apply", "--server-side", "-f", "-", input=DEPLOYMENT)
        assert created.stdout.strip() == "deployment.apps/d1 serverside-applied"
        changed = DEPLOYMENT.replace("replicas: 2", "replicas: 4").replace("image: busybox", "image: busybox:1.36")
        applied = rest.kubectl(version, "apply", "--server-side", "--force-conflicts", "-f", "-", input=changed)
        assert applied.stdout.strip() == "deployment.apps/d1 serverside-applied"
        got = json.loads(rest.kubectl(version, "get", "deploy", "d1", "-o", "json").stdout)
        assert got["spec"]["replicas"] == 4
        assert [c["image"] for c in got["spec"]["template"]["spec"]["containers"]] == ["busybox:1.36"]
        bad = rest.kubectl(
            version, "apply", "--server-side", "-f", "-", input=changed.replace("image:", "imagee:"), check=False
        )
        assert bad.returncode == 1 and 'unknown field "spec.template.spec.containers[0].imagee"' in bad.stderr

    await asyncio.to_thread(run)


def managers(rest: Rest, version: str, name: str) -> dict[str, dict[str, object]]:
    shown = rest.kubectl(version, "get", "deploy", name, "-o", "json", "--show-managed-fields").stdout
    return {e["manager"]: e for e in json.loads(shown)["metadata"]["managedFields"]}


async def test_server_side_apply_field_ownership(rest: Rest, version: str) -> None:
    """Two field managers as on Kubernetes: a second manager changing a field the first owns is a
    conflict kubectl reports field by field; the same value is shared; --force-conflicts takes the field
    over; a field a manager stops applying is removed unless someone else owns it; fields set by
    update (kubectl label, client-side apply) are owned too and conflict with an apply."""
    labelled = DEPLOYMENT.replace("name: d1\n", "name: d1\n  labels: {tier: web}\n")

    def apply(manager: str, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
        args = ("apply", "--server-side", f"--field-manager={manager}", *extra, "-f", "-")
        return rest.kubectl(version, *args, input=text, check=False)

    def run() -> None:
        assert apply("alice", labelled).stdout.strip() == "deployment.apps/d1 serverside-applied"
        owned = managers(rest, version, "d1")["alice"]
        assert owned["operation"] == "Apply" and owned["apiVersion"] == "apps/v1"
        fields = owned["fieldsV1"]
        assert fields["f:spec"]["f:replicas"] == {}  # type: ignore[index]
        container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']  # type: ignore[index]
        assert container == {".": {}, "f:image": {}, "f:name": {}}

        conflict = apply("bob", DEPLOYMENT.replace("replicas: 2", "replicas: 3"))
        assert conflict.returncode == 1
        assert conflict.stderr.startswith(
            'error: Apply failed with 1 conflict: conflict with "alice": .spec.replicas\n'
        )
        assert "--force-conflicts" in conflict.stderr

        two = DEPLOYMENT.replace("replicas: 2", "replicas: 3").replace("image: busybox", "image: busybox:1.36")
        conflicts = apply("bob", two)
        assert 'Apply failed with 2 conflicts: conflicts with "alice":' in conflicts.stderr
        assert '- .spec.replicas\n- .spec.template.spec.containers[name="c"].image' in conflicts.stderr

        assert apply("bob", DEPLOYMENT).returncode == 0  # the same values: shared, no conflict
        assert set(managers(rest, version, "d1")) == {"alice", "bob"}

        forced = apply("bob", DEPLOYMENT.replace("replicas: 2", "replicas: 5"), "--force-conflicts")
        assert forced.returncode == 0, forced.stderr
        owners = managers(rest, version, "d1")
        assert "f:replicas" not in owners["alice"]["fieldsV1"]["f:spec"]  # type: ignore[index]
        assert "f:replicas" in owners["bob"]["fieldsV1"]["f:spec"]  # type: ignore[index]

        # alice stops applying the label: it goes; she stops applying replicas: bob owns it, it stays
        assert apply("alice", DEPLOYMENT.replace("  replicas: 2\n", "")).returncode == 0
        got = json.loads(rest.kubectl(version, "get", "deploy", "d1", "-o", "json").stdout)
        assert "tier" not in (got["metadata"].get("labels") or {}) and got["spec"]["replicas"] == 5

        rest.kubectl(version, "label", "deploy", "d1", "team=blue")
        assert managers(rest, version, "d1")["kubectl-label"]["operation"] == "Update"
        mine = DEPLOYMENT.replace("  replicas: 2\n", "")
        relabel = apply("alice", mine.replace("name: d1\n", "name: d1\n  labels: {team: red}\n"))
        assert relabel.stderr.startswith(
            'error: Apply failed with 1 conflict: conflict with "kubectl-label" using apps/v1: .metadata.labels.team'
        )

        # kubectl scale writes spec.replicas through the scale subresource: owned under that subresource
        rest.kubectl(version, "scale", "deploy", "d1", "--replicas=6")
        scaler = managers(rest, version, "d1")[f"kubectl.{version}"]  # unnamed: the User-Agent's program
        assert (scaler["operation"], scaler["subresource"]) == ("Update", "scale")
        rescale = apply("alice", DEPLOYMENT.replace("replicas: 2", "replicas: 3"))
        expected = f'conflict with "kubectl.{version}" with subresource "scale" using apps/v1: .spec.replicas'
        assert expected in rescale.stderr, rescale.stderr

        # client-side apply on its own object keeps working and records its manager
        rest.kubectl(version, "apply", "-f", "-", input=POD)
        pod = json.loads(rest.kubectl(version, "get", "pod", "web", "-o", "json", "--show-managed-fields").stdout)
        assert [e["manager"] for e in pod["metadata"]["managedFields"]] == ["kubectl-client-side-apply"]

    await asyncio.to_thread(run)


async def test_client_side_apply_then_server_side(rest: Rest, version: str) -> None:
    """An object managed by client-side apply, then applied server-side: the first server-side apply that
    changes a field the client-side manager owns conflicts, as on Kubernetes; one that changes nothing
    lets kubectl move the client-side ownership to its server-side manager (a JSON patch of
    managedFields), after which server-side applies change the field freely."""

    def run() -> None:
        rest.kubectl(version, "apply", "-f", "-", input=DEPLOYMENT)
        three = DEPLOYMENT.replace("replicas: 2", "replicas: 3")
        first = rest.kubectl(version, "apply", "--server-side", "-f", "-", input=three, check=False)
        assert 'conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas' in first.stderr
        assert rest.kubectl(version, "apply", "--server-side", "-f", "-", input=DEPLOYMENT).returncode == 0
        owners = {m: e["operation"] for m, e in managers(rest, version, "d1").items()}
        assert owners.get("kubectl") == "Apply" and "kubectl-client-side-apply" not in owners, owners
        assert rest.kubectl(version, "apply", "--server-side", "-f", "-", input=three).returncode == 0
        assert rest.kubectl(version, "get", "deploy", "d1", "-o", "jsonpath={.spec.replicas}").stdout == "3"

    await asyncio.to_thread(run)
