"""The `cluster-info` ConfigMap in kube-public, as kubeadm publishes it: `kubeconfig` holds a kubeconfig
with one cluster (the server and the CA, nothing secret), and the bootstrap signer adds one
`jws-kubeconfig-<token-id>` signature per signing token. A joining node reads it without credentials,
then trusts it only if a signature checks with its token and the CA matches its pinned hash.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import yaml

NAMESPACE = "kube-public"
NAME = "cluster-info"
KUBECONFIG_KEY = "kubeconfig"
JWS_PREFIX = "jws-kubeconfig-"
# Where an anonymous client reads it (the REST API's path).
REST_PATH = f"/api/v1/namespaces/{NAMESPACE}/configmaps/{NAME}"


GRPC_CLUSTER = "skiff-grpc"


@dataclass(frozen=True)
class ClusterInfo:
    server: str  # https://host:port, the Kubernetes (REST) API
    ca_pem: bytes
    # Skiff's gRPC API (host:port), where components connect: a second cluster entry in the same signed
    # kubeconfig, so a joining node learns it from the signed content too.
    grpc_server: str = ""


def kubeconfig(info: ClusterInfo) -> str:
    ca = base64.b64encode(info.ca_pem).decode()
    clusters: list[dict[str, object]] = [
        {"name": "", "cluster": {"server": info.server, "certificate-authority-data": ca}}
    ]
    if info.grpc_server:
        clusters.append(
            {"name": GRPC_CLUSTER, "cluster": {"server": info.grpc_server, "certificate-authority-data": ca}}
        )
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "contexts": [],
        "current-context": "",
        "preferences": {},
        "users": [],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def parse_kubeconfig(text: str) -> ClusterInfo:
    """The server and CA of cluster-info's kubeconfig; ValueError naming what is missing."""
    try:
        doc = yaml.safe_load(text)
        cluster = doc["clusters"][0]["cluster"]
        grpc = next((c["cluster"]["server"] for c in doc["clusters"] if c.get("name") == GRPC_CLUSTER), "")
        return ClusterInfo(
            server=str(cluster["server"]),
            ca_pem=base64.b64decode(cluster["certificate-authority-data"]),
            grpc_server=str(grpc),
        )
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"cluster-info: the kubeconfig has no usable cluster (server and CA): {exc}") from None
