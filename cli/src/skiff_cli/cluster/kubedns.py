"""The `kube-dns` Service, as kubeadm sets it up: kube-system, the 10th address of the service CIDR,
53/UDP `dns` and 53/TCP `dns-tcp`.

In Kubernetes the Service selects the CoreDNS pods. skiff-dns runs as a host process instead, listening
on the pod bridge's gateway address (the one address on the host every pod can reach), so the Service
has no selector and a hand-made Endpoints names that address, as Kubernetes does for any Service backed
by something outside the cluster. skiff-proxy carries traffic for the ClusterIP to it. Idempotent: what
exists is left alone (an operator's own kube-dns wins).
"""

from __future__ import annotations

import ipaddress

from skiff.api.core.v1 import service_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_common import errors

from ..clientconfig import ClientConfig

NAME, NAMESPACE = "kube-dns", "kube-system"
# The apiserver's --service-cluster-ip-range default; `skiff up` does not change it.
DEFAULT_SERVICE_CIDR = "10.96.0.0/16"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/name": "skiff-dns"}


def cluster_dns_ip(service_cidr: str = DEFAULT_SERVICE_CIDR) -> str:
    """The 10th address of the service CIDR (10.96.0.10), where kubeadm puts the cluster DNS."""
    return str(ipaddress.ip_network(service_cidr, strict=False).network_address + 10)


def kube_dns_objects(dns_ip: str, address: str) -> tuple[service_pb2.Service, service_pb2.Endpoints]:
    meta = meta_pb2.ObjectMeta(name=NAME, namespace=NAMESPACE, labels=LABELS)
    svc = service_pb2.Service(api_version="v1", kind="Service", metadata=meta)
    svc.spec.type = "ClusterIP"
    svc.spec.cluster_ip = dns_ip
    for name, protocol in (("dns", "UDP"), ("dns-tcp", "TCP")):
        port = svc.spec.ports.add(name=name, port=53, protocol=protocol)
        port.target_port.int_val = 53
    ep = service_pb2.Endpoints(api_version="v1", kind="Endpoints", metadata=meta)
    subset = ep.subsets.add()
    subset.addresses.add(ip=address)
    subset.ports.add(name="dns", port=53, protocol="UDP")
    subset.ports.add(name="dns-tcp", port=53, protocol="TCP")
    return svc, ep


async def ensure_kube_dns(config: ClientConfig, address: str, service_cidr: str = DEFAULT_SERVICE_CIDR) -> list[str]:
    """Create the kube-dns Service and its Endpoints where missing, and point existing Endpoints at
    `address` (it moves when a one-node cluster gains its node network); returns what was made or moved."""
    svc, ep = kube_dns_objects(cluster_dns_ip(service_cidr), address)
    created = []
    api = ApiClient.connect(config.server, tls=config.tls, wait_for_ready=True)
    try:
        for obj in (svc, ep):
            try:
                await api.create(obj)
                created.append(f"{obj.kind.lower()}/{NAME}")
            except errors.AlreadyExists:
                if obj is ep:
                    current = await api.get(service_pb2.Endpoints, NAME, ep.metadata.namespace)
                    if list(current.subsets) != list(ep.subsets):
                        moved = service_pb2.Endpoints()
                        moved.CopyFrom(current)
                        del moved.subsets[:]
                        moved.subsets.extend(ep.subsets)
                        await api.update(moved)
                        created.append(f"endpoints/{NAME} (now {address})")
    finally:
        await api.close()
    return created
