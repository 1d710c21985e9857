"""Who the control-plane members are, and etcd's own view of them, for `skiff join --control-plane`.

kubeadm finds the existing members of a stacked control plane from the cluster itself (its kubeadm-config
ConfigMap, later the etcd Pods' annotations). Skiff keeps the same record in the kube-system ConfigMap
`skiff-control-plane`: one entry per member with its gRPC API, etcd client and etcd peer address. A
joining member reads it to know which apiservers and etcd members exist, then adds itself; every address
comes from the member's ClusterLayout, so members on their own network addresses need no change here.

etcd membership goes through etcd itself (`etcdctl member add/promote/remove`, over etcd's mutual TLS
with a client certificate of etcd's CA), as kubeadm's join and reset do. As kubeadm's (EtcdLearnerMode), a
new member is added as a learner: it receives the log without voting, so a member that is slow to catch
up (or never starts) cannot cost the quorum, and it is promoted to a voter once etcd says it is in sync.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict, dataclass
from typing import Any

from skiff.api.core.v1 import config_pb2
from skiff_client.api import ApiClient
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig

from ..clientconfig import ClientConfig
from . import components
from .layout import ClusterLayout

CONFIGMAP = "skiff-control-plane"
NAMESPACE = "kube-system"


class MemberError(Exception):
    pass


@dataclass(frozen=True)
class Member:
    name: str
    apiserver: str  # host:port of its gRPC API
    etcd: str  # host:port of its etcd client URL
    etcd_peer: str  # https://host:port

    @classmethod
    def of(cls, layout: ClusterLayout) -> Member:
        return cls(layout.node_name, layout.apiserver_listen, layout.etcd_endpoint, components.etcd_peer_url(layout))


async def read_members(admin: ClientConfig) -> list[Member]:
    async with ApiClient.connect(admin.server, tls=admin.tls, wait_for_ready=True) as client:
        try:
            cm = await client.get(config_pb2.ConfigMap, CONFIGMAP, NAMESPACE)
        except errors.NotFound:
            return []
    members = []
    for name, raw in sorted(cm.data.items()):
        try:
            members.append(Member(**json.loads(raw)))
        except (TypeError, ValueError):
            raise MemberError(f"{NAMESPACE}/{CONFIGMAP}: entry {name!r} is not a member record") from None
    return members


async def _change(admin: ClientConfig, name: str, value: str | None) -> None:
    """Set (or, value None, drop) one member's entry, retrying on a concurrent writer's Conflict."""
    async with ApiClient.connect(admin.server, tls=admin.tls, wait_for_ready=True) as client:
        for _ in range(10):
            try:
                cm = await client.get(config_pb2.ConfigMap, CONFIGMAP, NAMESPACE)
            except errors.NotFound:
                if value is None:
                    return
                cm = config_pb2.ConfigMap(api_version="v1", kind="ConfigMap", data={name: value})
                cm.metadata.name, cm.metadata.namespace = CONFIGMAP, NAMESPACE
                try:
                    await client.create(cm)
                    return
                except errors.AlreadyExists:
                    continue
            if value is None:
                if name not in cm.data:
                    return
                del cm.data[name]
            elif cm.data.get(name) == value:
                return
            else:
                cm.data[name] = value
            try:
                await client.update(cm)
                return
            except errors.Conflict:
                continue
    raise MemberError(f"{NAMESPACE}/{CONFIGMAP}: could not record member {name!r} (kept conflicting)")


async def record_member(admin: ClientConfig, member: Member) -> None:
    await _change(admin, member.name, json.dumps(asdict(member), sort_keys=True))


async def forget_member(admin: ClientConfig, name: str) -> None:
    await _change(admin, name, None)


def etcdctl(tls: TLSConfig, endpoints: list[str], *args: str) -> str:
    """Run etcdctl against these members over mutual TLS; its stdout, or MemberError with its message."""
    argv = [
        components.bin_path("etcdctl"),
        f"--endpoints={','.join(f'https://{e}' for e in endpoints)}",
        f"--cacert={tls.ca_file}",
        f"--cert={tls.cert_file}",
        f"--key={tls.key_file}",
        "--command-timeout=20s",
        *args,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise MemberError(f"etcdctl {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def etcd_members(tls: TLSConfig, endpoints: list[str]) -> list[dict[str, Any]]:
    """etcd's member list: id (decimal), name ("" until started), peerURLs, clientURLs."""
    listed = json.loads(etcdctl(tls, endpoints, "member", "list", "-w", "json"))
    return list(listed.get("members", []))


def add_etcd_member(tls: TLSConfig, endpoints: list[str], name: str, peer_url: str) -> str:
    """Add `name` at `peer_url` as a learner (first removing a stale entry with that peer URL left by an
    earlier join that never started); returns the --initial-cluster the new member must start with."""
    for member in etcd_members(tls, endpoints):
        if peer_url in member.get("peerURLs", []):
            etcdctl(tls, endpoints, "member", "remove", format(int(str(member["ID"])), "x"))
    deadline = time.monotonic() + 60
    while True:
        try:
            out = etcdctl(tls, endpoints, "member", "add", name, f"--peer-urls={peer_url}", "--learner")
            break
        except MemberError as exc:
            # etcd's strict reconfiguration check: a member that started moments ago does not count as
            # active yet (etcd waits a few seconds of heartbeats), and adding now could cost the quorum.
            if "unhealthy cluster" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(1)
    for line in out.splitlines():
        if line.startswith("ETCD_INITIAL_CLUSTER="):
            return line.split("=", 1)[1].strip().strip('"')
    raise MemberError(f"etcdctl member add {name}: no ETCD_INITIAL_CLUSTER in its answer: {out.strip()}")


def promote_etcd_member(tls: TLSConfig, endpoints: list[str], peer_url: str) -> bool:
    """Promote the learner at `peer_url` to a voting member: True once it votes (at once if it already
    did), False while etcd refuses because the learner has not caught up with the leader yet."""
    for member in etcd_members(tls, endpoints):
        if peer_url not in member.get("peerURLs", []):
            continue
        if not member.get("isLearner"):
            return True
        try:
            etcdctl(tls, endpoints, "member", "promote", format(int(str(member["ID"])), "x"))
        except MemberError as exc:
            # etcd: "can only promote a learner member which is in sync with leader"
            if "in sync with leader" in str(exc):
                return False
            raise
        return True
    raise MemberError(f"no etcd member has peer URL {peer_url}")


def remove_etcd_member(tls: TLSConfig, endpoints: list[str], peer_url: str) -> bool:
    """Remove the member at `peer_url` from etcd (kubeadm reset's etcd phase); False if there was none."""
    for member in etcd_members(tls, endpoints):
        if peer_url in member.get("peerURLs", []):
            etcdctl(tls, endpoints, "member", "remove", format(int(str(member["ID"])), "x"))
            return True
    return False
