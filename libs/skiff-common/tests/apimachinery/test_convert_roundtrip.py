"""Round trips of realistic manifests, one per kind: YAML -> message -> dict/YAML/JSON -> message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_common.apimachinery import kinds
from skiff_common.apimachinery._yaml import KubeLoader
from skiff_common.apimachinery.convert import dump_json, dump_yaml, from_dict, load_manifests, to_dict

TESTDATA = Path(__file__).parent / "testdata"
MANIFESTS = sorted(TESTDATA.glob("*.yaml"))


def _load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=KubeLoader)


def test_every_kind_has_a_manifest() -> None:
    covered = {_load(p)["kind"] for p in MANIFESTS}
    assert covered == {info.kind for info in kinds.ALL_KINDS}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.stem)
def test_dict_round_trip_is_identity(path: Path) -> None:
    data = _load(path)
    obj = from_dict(data)
    assert type(obj) is kinds.lookup_kind(data["apiVersion"], data["kind"]).message
    assert to_dict(obj) == data
    assert from_dict(to_dict(obj)) == obj


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.stem)
def test_yaml_and_json_round_trip(path: Path) -> None:
    [obj] = load_manifests(path.read_text())
    assert load_manifests(dump_yaml(obj)) == [obj]
    assert load_manifests(dump_json(obj)) == [obj]
    assert json.loads(dump_json(obj)) == _load(path)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.stem)
def test_binary_round_trip_through_any(path: Path) -> None:
    [obj] = load_manifests(path.read_text())
    assert kinds.unpack(kinds.pack(obj)) == obj


def test_presence_survives() -> None:
    [dep] = load_manifests((TESTDATA / "deployment.yaml").read_text())
    volumes = dep.spec.template.spec.volumes  # type: ignore[attr-defined]
    assert volumes[0].HasField("empty_dir") and not volumes[0].HasField("secret")
    assert dep.spec.strategy.rolling_update.max_unavailable.WhichOneof("value") == "int_val"  # type: ignore[attr-defined]
    [rs] = load_manifests((TESTDATA / "replicaset.yaml").read_text())
    assert rs.spec.HasField("replicas") and rs.spec.replicas == 0  # type: ignore[attr-defined]
    assert to_dict(rs)["spec"]["replicas"] == 0
    [svc] = load_manifests((TESTDATA / "service.yaml").read_text())
    assert to_dict(svc)["status"] == {"loadBalancer": {}}


def test_fields_kubernetes_always_prints_are_printed_when_zero() -> None:
    status = pod_pb2.ContainerStatus(name="c", image="busybox", ready=False, restart_count=0)
    assert to_dict(status) == {"name": "c", "image": "busybox", "ready": False, "restartCount": 0}
    assert to_dict(pod_pb2.ContainerStatus(name="c")) == {"name": "c"}  # unset stays omitted
    rs = apps_pb2.ReplicaSet(status=apps_pb2.ReplicaSetStatus(replicas=0))
    assert to_dict(rs)["status"] == {"replicas": 0}


def test_special_values_decode_to_their_proto_form() -> None:
    [pod] = load_manifests((TESTDATA / "pod.yaml").read_text())
    assert pod.status.pod_ip == "10.244.1.17"  # type: ignore[attr-defined]
    assert pod.status.container_statuses[0].container_id == "skiff://bb22"  # type: ignore[attr-defined]
    finished = pod.status.init_container_statuses[0].state.terminated.finished_at  # type: ignore[attr-defined]
    assert (finished.seconds, finished.nanos) == (1714557608, 500_000_000)
    [secret] = load_manifests((TESTDATA / "secret.yaml").read_text())
    assert secret.data["password"] == b"s3cr3t"  # type: ignore[attr-defined]
    [svc] = load_manifests((TESTDATA / "service.yaml").read_text())
    assert svc.spec.ports[0].target_port.str_val == "http"  # type: ignore[attr-defined]
    assert svc.spec.ports[1].target_port.int_val == 9091  # type: ignore[attr-defined]


DEPLOYMENT_KUBECTL_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    deployment.kubernetes.io/revision: "1"
    note: |-
      line one
      line two
  creationTimestamp: "2024-05-01T10:00:00Z"
  generation: 1
  labels:
    app: web
  name: web
  namespace: default
  resourceVersion: "123"
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - args:
        - --port=80
        env:
        - name: ENABLED
          value: "true"
        - name: COUNT
          value: "1"
        image: nginx
        name: web
        resources:
          limits:
            cpu: 500m
      volumes:
      - emptyDir: {}
        name: cache
status: {}
"""


def test_dump_yaml_prints_like_kubectl() -> None:
    [obj] = load_manifests(DEPLOYMENT_KUBECTL_YAML)
    assert dump_yaml(obj) == DEPLOYMENT_KUBECTL_YAML


def test_dump_json_keeps_struct_order_and_indent() -> None:
    [obj] = load_manifests(DEPLOYMENT_KUBECTL_YAML)
    text = dump_json(obj)
    assert text.startswith('{\n    "apiVersion": "apps/v1",\n    "kind": "Deployment",\n    "metadata": {\n')
    assert text.endswith("}\n")
    assert list(json.loads(text)["metadata"]) == [
        "name",
        "namespace",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "labels",
        "annotations",
    ]


def test_sequence_dumps_as_list() -> None:
    [obj] = load_manifests(DEPLOYMENT_KUBECTL_YAML)
    text = dump_yaml([obj, obj])
    doc = yaml.safe_load(text)
    assert (doc["apiVersion"], doc["kind"], doc["metadata"]) == ("v1", "List", {"resourceVersion": ""})
    assert len(doc["items"]) == 2
    assert load_manifests(text) == [obj, obj]
    assert json.loads(dump_json([]))["items"] == []


def test_to_dict_fills_missing_type_meta() -> None:
    from skiff.api.core.v1 import config_pb2

    cm = config_pb2.ConfigMap()
    cm.metadata.name = "x"
    assert list(to_dict(cm).items()) == [("apiVersion", "v1"), ("kind", "ConfigMap"), ("metadata", {"name": "x"})]


def test_dump_json_escapes_like_go() -> None:
    from skiff.api.core.v1 import config_pb2

    cm = config_pb2.ConfigMap(data={"a": "<b> & é\u2028"})
    text = dump_json(cm)
    assert '"a": "\\u003cb\\u003e \\u0026 é\\u2028"' in text
    assert load_manifests(text) == [kinds_set(cm)]


def kinds_set(obj: object) -> object:
    from google.protobuf.message import Message

    assert isinstance(obj, Message)
    return kinds.set_type_meta(obj)
