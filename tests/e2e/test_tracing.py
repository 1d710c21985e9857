"""Traces in a real OpenTelemetry collector (rotel): one `skiff apply` of a pod is one trace across the
CLI, the apiserver and etcd, and the pod's start on the node is one trace across the kubelet and the
runtime down to the container's shim, linked to that request.

The collector receives OTLP from every component of a cluster started for this test (with the standard
OTEL_* variables) and forwards it over OTLP to a receiver in the test, which keeps the spans to read.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from polling import wait_for as wait
from skiff_cli import kubeconfig
from skiff_cli.cluster.layout import ClusterLayout, free_port
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root]

SKIFF = str(Path(sys.executable).parent / "skiff")
ROTEL = Path(sys.executable).parents[1] / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
ROTEL = ROTEL / "site-packages" / "rotel" / "rotel-agent"
POD = """
apiVersion: v1
kind: Pod
metadata:
  name: traced
spec:
  containers:
    - name: c
      image: busybox
      command: ["sleep", "3600"]
"""


class Spans(trace_service_pb2_grpc.TraceServiceServicer):
    """What the collector forwards: (service.name, resource attributes, span) triples."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, dict[str, str], object]] = []

    def Export(self, request, context):  # type: ignore[no-untyped-def]
        for rs in request.resource_spans:
            attrs = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    self.spans.append((attrs.get("service.name", ""), attrs, span))
        return trace_service_pb2.ExportTraceServiceResponse()

    def find(self, service: str, name: str) -> list:  # type: ignore[type-arg]
        return [s for svc, _, s in list(self.spans) if svc == service and s.name == name]

    def in_trace(self, trace_id: bytes) -> list[tuple[str, str]]:
        return [(svc, s.name) for svc, _, s in list(self.spans) if s.trace_id == trace_id]


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[Spans, str]]:
    spans = Spans()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(spans, server)
    sink = server.add_insecure_port("127.0.0.1:0")
    server.start()
    grpc_port, http_port = free_port(), free_port()
    rotel = subprocess.Popen(
        [
            str(ROTEL),
            "start",
            f"--otlp-grpc-endpoint=127.0.0.1:{grpc_port}",
            f"--otlp-http-endpoint=127.0.0.1:{http_port}",
            "--exporter=otlp",
            f"--otlp-exporter-endpoint=http://127.0.0.1:{sink}",
            "--otlp-exporter-compression=none",
            "--traces-batch-timeout=100ms",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "rotel.log", "w"),
    )
    try:
        yield spans, f"http://127.0.0.1:{grpc_port}"
    finally:
        rotel.terminate()
        rotel.wait(timeout=30)
        server.stop(None)


@pytest.fixture
def traced_cluster(collector, tmp_path_factory) -> Iterator[tuple[LocalCluster, dict[str, str]]]:  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (namespaces, cgroups, mounts)")
    _, endpoint = collector
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the components inherit the cluster's environment
    state_dir = tmp_path_factory.mktemp("traced")
    layout = ClusterLayout.ephemeral(state_dir, secrets.token_hex(3), pod_subnet=150 + secrets.randbelow(40))
    local = LocalCluster(layout, say=lambda line: print(f"[traced] {line}"))
    try:
        local.up()
        config = kubeconfig.merge(layout.rest_url, local.tls["admin"], state_dir / "kubeconfig")
        yield local, {**os.environ, "KUBECONFIG": str(config)}
    finally:
        local.down()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_one_apply_is_one_trace_and_the_pod_start_links_to_it(collector, traced_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spans, _ = collector
    cluster, env = traced_cluster
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD)
    subprocess.run([SKIFF, "apply", "-f", str(manifest)], env=env, check=True, capture_output=True, timeout=60)

    root = wait("the CLI's root span", lambda: spans.find("skiff-cli", "skiff apply"))[0]
    assert not root.parent_span_id

    def creates() -> list:  # type: ignore[type-arg]
        """The apiserver's server span of the request that created the pod (REST: the CLI's front door)."""
        return [
            s
            for svc, _, s in list(spans.spans)
            if svc == "skiff-apiserver"
            and s.trace_id == root.trace_id
            and s.name.startswith(("POST /api/v1/namespaces/default/pods", "PATCH /api/v1/namespaces/default/pods"))
        ]

    create = wait("the apiserver's span of the create in the CLI's trace", creates)[0]
    assert wait(
        "etcd spans under the request", lambda: [n for svc, n in spans.in_trace(root.trace_id) if n.startswith("etcd.")]
    )

    start = wait("the kubelet's StartPod span", lambda: spans.find("skiff-kubelet", "kubelet.StartPod"))[0]
    attributes = {kv.key: kv.value.string_value for kv in start.attributes}
    assert attributes["k8s.pod.name"] == "traced" and attributes["k8s.node.name"] == cluster.layout.node_name
    assert [(link.trace_id, link.span_id) for link in start.links] == [(create.trace_id, create.span_id)]
    runtime = wait(
        "the runtime's server spans in the pod-start trace",
        lambda: [n for svc, n in spans.in_trace(start.trace_id) if svc == "skiff-runtime"],
    )
    assert any("RunPodSandbox" in n for n in runtime), runtime
    # ...and down into the shim: its create as a span of the runtime, its phases (as it reported them)
    # beneath, and the start; for the pause container and for the pod's own.
    shim = wait(
        "the shim's spans in the pod-start trace",
        lambda: (
            (names := {n for svc, n in spans.in_trace(start.trace_id) if svc == "skiff-runtime"})
            >= {"shim.create", "shim.fork_init", "shim.init_setup", "shim.start"}
            and names
        ),
    )
    assert {"shim.join_cgroup", "shim.write_record"} <= shim, shim
    kubelet_resource = next(attrs for svc, attrs, _ in spans.spans if svc == "skiff-kubelet")
    assert kubelet_resource["k8s.node.name"] == cluster.layout.node_name
    assert kubelet_resource["service.namespace"] == "skiff" and kubelet_resource["service.instance.id"]
