"""A highly available control plane: kubeadm's stacked topology, members joined by `skiff join
--control-plane` and built by `skiff up --control-planes N`.

A member is a stacked etcd member, an apiserver, a scheduler and the controllers (kubeadm's control-plane
node without its kubelet). Joining one, as kubeadm's control-plane join phases do:

1. the cluster's shared keys reach the member (the CA and its key, etcd's CA and key, sa.key and the
   encryption config) by kubeadm's --certificate-key flow (certkeys.py: the keys encrypted in the
   kube-system Secret `kubeadm-certs`, read with the join token after discovery), also on this machine;
2. the member issues its own serving and client certificates with its own names (ClusterPKI.ensure);
3. it reads the existing members (members.py), adds its etcd member through them as a learner
   (`etcdctl member add --learner` over etcd's mutual TLS), starts etcd with
   --initial-cluster-state=existing and promotes it to a voter once it has caught up;
4. its apiserver talks to every etcd member, its scheduler and controllers to every apiserver, both with
   --leader-elect so one of each is active; then it records itself in kube-system/skiff-control-plane.

On this one machine members run in the host's network namespace on 127.0.0.1, each with its own ports and
state folder (<state>/controlplanes/<name>); every address comes from the member's ClusterLayout.

`rewire` gives the processes already running (the first member, every node's kubelet and proxy) the new
list of apiservers and etcd members, restarting those whose command line changed: clients then fail over
between all apiservers (skiff_common.grpcutil.channel).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

from skiff_client.api import ApiClient
from skiff_common.grpcutil import TLSConfig
from skiff_common.pki import ClusterPKI, ca_cert_hash, control_plane_profiles

from ..clientconfig import ClientConfig
from . import certkeys, components, processes, supervise
from .discovery import discover
from .layout import LAYOUT_FILE, ClusterLayout
from .local import ClusterError, etcd_healthy, start_component, wait_for
from .members import (
    Member,
    add_etcd_member,
    forget_member,
    promote_etcd_member,
    read_members,
    record_member,
    remove_etcd_member,
)
from .multinode import nodes_dir
from .probes import apiserver_ready
from .tokens import create_token, publish_cluster_info_at

MEMBERS_DIR = "controlplanes"
STOP_ORDER = ("supervisor", "controllers", "scheduler", "apiserver", "etcd")
INITIAL_CLUSTER_FILE = "etcd-initial-cluster"


def members_dir(first: ClusterLayout) -> Path:
    return first.state_dir / MEMBERS_DIR


def member_layout(first: ClusterLayout, index: int) -> ClusterLayout:
    """Member `index` (1, 2, ...) beside `first`: its own free ports and folder, the recorded one if it
    exists. It advertises, on its own ports, where `first` does: the node bridge's host address in a
    multi-node cluster (workers' namespaces and every pod reach it; the member runs in the host's
    namespace, so it is not given the node network itself), else the first node's pod gateway."""
    name = f"{first.node_name}-cp{index}"
    state = members_dir(first) / name
    if (state / LAYOUT_FILE).exists():
        return ClusterLayout.load(state)
    member = ClusterLayout.ephemeral(state, f"{first.bridge[-6:]}c{index}", pod_subnet=0)
    member.node_name, member.pod_cidr, member.node_ip = name, first.pod_cidr, first.node_ip
    return member


def recorded_members(first: ClusterLayout) -> list[ClusterLayout]:
    folder = members_dir(first)
    if not folder.is_dir():
        return []
    return [ClusterLayout.load(p) for p in sorted(folder.iterdir()) if (p / LAYOUT_FILE).exists()]


class ControlPlaneMember:
    def __init__(self, layout: ClusterLayout, *, say: Callable[[str], None] = print) -> None:
        self.layout = layout
        self.say = say

    def certificates(self) -> tuple[dict[str, TLSConfig], dict[str, TLSConfig]]:
        """This member's own leaves (its names in the SANs), issued with the shared CAs already in place."""
        addresses = [self.layout.node_ip] if self.layout.node_ip else []  # dialled there from other nodes
        made = ClusterPKI(self.layout.pki_dir).ensure(control_plane_profiles(self.layout.node_name, addresses))
        prefix = components.ETCD_PKI_SUBDIR + "/"
        tls = {name: t for name, t in made.items() if "/" not in name}
        etcd = {name.removeprefix(prefix): t for name, t in made.items() if name.startswith(prefix)}
        return tls, etcd

    def admin(self, server: str) -> ClientConfig:
        pki = self.layout.pki_dir
        return ClientConfig(
            server=server,
            ca_file=str(pki / "ca.crt"),
            cert_file=str(pki / "admin.crt"),
            key_file=str(pki / "admin.key"),
        )

    def join(self, cluster_api: str) -> None:
        """Join the control plane reached at `cluster_api` (gRPC host:port list); the shared keys must
        already be in this member's pki folder."""
        layout = self.layout
        for folder in (layout.state_dir, layout.log_dir, layout.pki_dir):
            folder.mkdir(parents=True, exist_ok=True)
        tls, etcd_tls = self.certificates()
        admin = self.admin(cluster_api)
        others = [m for m in asyncio.run(read_members(admin)) if m.name != layout.node_name]
        if not others:
            raise ClusterError(
                f"no control-plane member is recorded in kube-system/skiff-control-plane at {cluster_api}"
            )
        layout.apiserver_peers = [m.apiserver for m in others]
        layout.etcd_peers = [m.etcd for m in others]
        layout.save()
        self._start_etcd(etcd_tls, [m.etcd for m in others])
        own = self.admin(layout.apiserver_listen)
        self._start(
            components.apiserver(
                layout, tls["apiserver"], etcd_tls["apiserver-client"], tls["apiserver-kubelet-client"]
            ),
            lambda: asyncio.run(apiserver_ready(own)),
        )
        asyncio.run(record_member(own, Member.of(layout)))
        self._start(components.scheduler(layout, tls["scheduler"]), lambda: True)
        self._start(components.controllers(layout, tls["controllers"]), lambda: True)
        supervise.ensure(layout.pid_dir, layout.log_dir)

    def _start_etcd(self, etcd_tls: dict[str, TLSConfig], existing: list[str]) -> None:
        layout = self.layout
        record = layout.state_dir / INITIAL_CLUSTER_FILE
        if not (layout.etcd_dir / "member").exists():
            self.say(f"[etcd] adding member {layout.node_name} as a learner through {', '.join(existing)}")
            initial = add_etcd_member(
                etcd_tls["healthcheck-client"], existing, layout.node_name, components.etcd_peer_url(layout)
            )
            record.write_text(initial + "\n")
        initial = record.read_text().strip()
        client, peer_url = etcd_tls["healthcheck-client"], components.etcd_peer_url(layout)

        def voting_and_healthy() -> bool:  # a learner answers no linearizable read: promoted first
            return promote_etcd_member(client, existing, peer_url) and etcd_healthy(layout, client)

        self._start(
            components.etcd(
                layout, etcd_tls["server"], etcd_tls["peer"], name=layout.node_name, initial_cluster=initial
            ),
            voting_and_healthy,
            timeout=60,
        )

    def _start(self, component: components.Component, ready: Callable[[], bool], timeout: float = 30) -> None:
        start_component(
            self.layout, component, ready, timeout=timeout, say=self.say, owner=f" of {self.layout.node_name}"
        )

    def stop(self) -> None:
        for name in STOP_ORDER:
            if processes.stop(name, self.layout.pid_dir):
                self.say(f"stopped {name} of {self.layout.node_name}")

    def leave(self, cluster_api: str) -> None:
        """Take this member out (kubeadm reset on a control-plane node): its etcd member is removed
        through the others, its record dropped, its processes stopped and its folder deleted."""
        layout = self.layout
        _, etcd_tls = self.certificates()
        others = layout.etcd_peers
        if others and remove_etcd_member(etcd_tls["healthcheck-client"], others, components.etcd_peer_url(layout)):
            self.say(f"[etcd] removed member {layout.node_name}")
        asyncio.run(forget_member(self.admin(cluster_api), layout.node_name))
        self.stop()
        shutil.rmtree(layout.state_dir, ignore_errors=True)


def rewire(layout: ClusterLayout, say: Callable[[str], None]) -> None:
    """Restart the processes started from `layout` whose --apiserver or --etcd-endpoints differ from the
    layout's current lists (the scheduler also gains --leader-elect once there are several members)."""
    for name in processes.supervised(layout.pid_dir):
        argv = processes.recorded_argv(name, layout.pid_dir)
        if argv is None or name == supervise.NAME:
            continue
        new = [_rewired(arg, layout) for arg in argv]
        if name == "scheduler" and layout.apiserver_peers and "--leader-elect" not in new:
            new.insert(1, "--leader-elect")
        if new != argv:
            processes.stop(name, layout.pid_dir)
            processes.start(name, new, log_dir=layout.log_dir, pid_dir=layout.pid_dir)
            say(f"restarted {name} of {layout.node_name} with every control-plane member")


def _rewired(arg: str, layout: ClusterLayout) -> str:
    if arg.startswith("--apiserver="):
        return f"--apiserver={layout.apiserver_address}"
    if arg.startswith("--etcd-endpoints="):
        return f"--etcd-endpoints={','.join(layout.etcd_endpoints)}"
    return arg


def peers_of(me: ClusterLayout, everyone: list[ClusterLayout]) -> None:
    """Point `me` at every other member's apiserver and etcd."""
    me.apiserver_peers = [m.apiserver_listen for m in everyone if m.state_dir != me.state_dir]
    me.etcd_peers = [m.etcd_endpoint for m in everyone if m.state_dir != me.state_dir]


def scale(first: ClusterLayout, admin: ClientConfig, count: int, say: Callable[[str], None]) -> list[ClusterLayout]:
    """`skiff up --control-planes N`: members 1..N-1 beside `first` joined (idempotent, like --nodes),
    any beyond them taken out; then every process of the cluster is given every member's address and
    cluster-info names every apiserver. Returns the layouts of all members, `first` included."""
    own = ClientConfig(first.apiserver_listen, admin.ca_file, admin.cert_file, admin.key_file)
    asyncio.run(record_member(own, Member.of(first)))
    wanted = [member_layout(first, index) for index in range(1, count)]
    keep = {m.state_dir for m in wanted}
    for extra in recorded_members(first):
        if extra.state_dir not in keep:
            say(f"removing control-plane member {extra.node_name}")
            ControlPlaneMember(extra, say=say).leave(first.apiserver_listen)
    missing = [m for m in wanted if not (m.pki_dir / "ca.key").exists()]
    if missing:  # the shared keys travel as to another machine: --upload-certs, a token, --certificate-key
        certificate_key = certkeys.new_key()
        join_token = asyncio.run(_upload(own, first.pki_dir, certificate_key))
        found = discover(first.join_address, join_token, [ca_cert_hash((first.pki_dir / "ca.crt").read_bytes())])
        for member in missing:
            certkeys.download(found.server, found.ca_pem, join_token, certificate_key, member.pki_dir)
    for member in wanted:
        if any(processes.running_pid(name, member.pid_dir) is None for name in STOP_ORDER):
            say(f"joining control-plane member {member.node_name}")
        ControlPlaneMember(member, say=say).join(first.apiserver_listen)  # idempotent: starts what is missing
    everyone = [first, *wanted]
    for layout in everyone:  # one member at a time: a restarted apiserver answers before the next restarts
        peers_of(layout, everyone)
        layout.save()
        rewire(layout, say)
        at = ClientConfig(layout.apiserver_listen, admin.ca_file, admin.cert_file, admin.key_file)
        wait_for(
            f"apiserver of {layout.node_name} to answer",
            lambda at=at: asyncio.run(apiserver_ready(at)),  # type: ignore[misc]
            timeout=60,
            log=layout.log_dir / "apiserver.log",
        )
    # nodes that join from now on learn every apiserver from cluster-info (joining.py)
    ca_pem = (first.pki_dir / "ca.crt").read_bytes()
    advertised = [m.advertised_apiserver_address for m in everyone]  # on the node bridge when there is one
    asyncio.run(publish_cluster_info_at(own, f"https://{first.join_address}", ca_pem, ",".join(advertised)))
    for worker in workers(first):
        worker.apiserver_peers = [a for a in advertised if a != worker.apiserver_listen]
        worker.save()
        rewire(worker, say)
    return everyone


async def _upload(admin: ClientConfig, pki_dir: Path, certificate_key: str) -> str:
    """`skiff init --upload-certs` and a join token: the token's value."""
    async with ApiClient.connect(admin.server, tls=admin.tls) as client:
        await certkeys.upload(client, pki_dir, certificate_key)
        return (await create_token(client, description="skiff up --control-planes")).value


def workers(first: ClusterLayout) -> list[ClusterLayout]:
    """The joined worker nodes recorded beside `first` (multinode.py keeps them under <state>/nodes)."""
    folder = nodes_dir(first)
    if not folder.is_dir():
        return []
    return [ClusterLayout.load(p) for p in sorted(folder.iterdir()) if (p / LAYOUT_FILE).exists()]


def remove_all(first: ClusterLayout, say: Callable[[str], None]) -> None:
    """`skiff down`: stop every member beside `first` and delete its folder (etcd data included); the
    whole etcd cluster goes, so no member is removed from it one by one."""
    for member in recorded_members(first):
        ControlPlaneMember(member, say=say).stop()
        shutil.rmtree(member.state_dir, ignore_errors=True)
        say(f"removed control-plane member {member.node_name}")
    shutil.rmtree(members_dir(first), ignore_errors=True)
