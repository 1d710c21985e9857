"""`skiff join ADDRESS --token ID.SECRET --discovery-token-ca-cert-hash sha256:HASH`, as `kubeadm join`.

Discovery first (cluster/discovery.py): cluster-info is read, its JWS is checked with the token and its
CA with the pinned hash, and the server must chain to that CA; any mismatch ends the join with a
message naming it. Then the node's runtime and kubelet start, and the kubelet's TLS bootstrap gets the
node its own certificates by CSR (cluster/joining.py); the join ends when the Node is Ready.

On one machine beside the control plane, each joined node needs its own state folder (--state-dir),
node name and pod CIDR; its ports, bridge and cgroup root are chosen from its name.

With --control-plane --certificate-key KEY (from `skiff init --upload-certs` or `skiff token create
--upload-certs`) the host joins as a control-plane member instead (kubeadm's stacked topology,
cluster/controlplane.py): the shared keys are read from kube-system/kubeadm-certs with the token and
decrypted with KEY (cluster/certkeys.py), then a stacked etcd member, an apiserver, a scheduler and the
controllers start. Its pod CIDR's gateway is the address its apiserver advertises to pods.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import socket
from pathlib import Path

from skiff_common.bootstrap.token import TokenError

from ..cluster import certkeys
from ..cluster.controlplane import ControlPlaneMember
from ..cluster.discovery import DEFAULT_WAIT, Discovered, DiscoveryError, discover
from ..cluster.joining import JoinedNode, JoinError
from ..cluster.layout import LAYOUT_FILE, ClusterLayout
from ..cluster.local import ClusterError
from ..cluster.members import MemberError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("join", help="join this host to a cluster as a node (token discovery, TLS bootstrap)")
    p.add_argument("address", help="the cluster's API address host:port, as `skiff init` printed it")
    p.add_argument("--token", required=True, help="a bootstrap token <id>.<secret>")
    p.add_argument(
        "--discovery-token-ca-cert-hash",
        action="append",
        default=[],
        dest="ca_hashes",
        help="sha256:<hex> of the cluster CA's public key (repeatable)",
    )
    p.add_argument(
        "--discovery-timeout",
        type=float,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"how long to wait for cluster-info to be signed for the token (default {DEFAULT_WAIT:g})",
    )
    p.add_argument("--node-name", default=socket.gethostname().lower(), help="this node's name")
    p.add_argument("--pod-cidr", default="10.89.0.0/16", help="this node's pod CIDR")
    p.add_argument("--state-dir", type=Path, default=ClusterLayout.state_dir)
    p.add_argument(
        "--control-plane", action="store_true", help="join as a control-plane member (stacked etcd, apiserver, ...)"
    )
    p.add_argument("--certificate-key", default="", help="the key that decrypts kube-system/kubeadm-certs (hex)")
    p.set_defaults(run=run)


def node_layout(state_dir: Path, node_name: str, pod_cidr: str) -> ClusterLayout:
    """A node's own ports, bridge and cgroup root (named after it), beside any other on this host."""
    try:
        ipaddress.ip_network(pod_cidr)
    except ValueError as exc:
        raise JoinError(f"--pod-cidr: {exc}") from None
    suffix = hashlib.sha256(node_name.encode()).hexdigest()[:6]
    layout = ClusterLayout.ephemeral(state_dir, suffix, pod_subnet=0)
    layout.node_name, layout.pod_cidr = node_name, pod_cidr
    return layout


def run(args: argparse.Namespace) -> int:
    if args.control_plane and not args.certificate_key:
        print("error: --certificate-key: required with --control-plane (see `skiff token create --upload-certs`)")
        return 1
    if args.certificate_key and not args.control_plane:
        print("error: --certificate-key: only with --control-plane")
        return 1
    try:
        found = discover(args.address, args.token, args.ca_hashes, wait=args.discovery_timeout)
    except (DiscoveryError, TokenError) as exc:
        print(f"error: discovery refused: {exc}")
        return 1
    print(f"[discovery] cluster-info is signed with token {found.token_id} and its CA is pinned")
    print(f"[discovery] the API server at {found.server} chains to the pinned CA")
    if args.control_plane:
        return join_control_plane(args, found)
    try:
        layout = node_layout(args.state_dir, args.node_name, args.pod_cidr)
        JoinedNode(layout).join(found, args.token)
    except JoinError as exc:
        print(f"error: {exc}")
        return 1
    print(f"""
This node has joined the cluster:
* Certificate signing request was sent to the apiserver and a response was received.
* The kubelet was informed of the new secure connection details.

Run 'skiff get nodes' on the control-plane to see node {layout.node_name} join the cluster.
Undo with: skiff reset --state-dir {layout.state_dir}""")
    return 0


def join_control_plane(args: argparse.Namespace, found: Discovered) -> int:
    try:
        if (args.state_dir / LAYOUT_FILE).exists():  # joined before: the same ports again
            layout = ClusterLayout.load(args.state_dir)
        else:
            layout = node_layout(args.state_dir, args.node_name, args.pod_cidr)
        if not (layout.pki_dir / "ca.key").exists():
            certkeys.download(found.server, found.ca_pem, args.token, args.certificate_key, layout.pki_dir)
            print("[download-certs] the shared keys were read from kube-system/kubeadm-certs and decrypted")
        ControlPlaneMember(layout).join(found.grpc_server)
    except (JoinError, certkeys.CertKeyError, ClusterError, MemberError) as exc:
        print(f"error: {exc}")
        return 1
    print(f"""
This node has joined the cluster as a control-plane member:
* A new etcd member was added to the local/stacked etcd cluster.
* An apiserver (on every etcd member), a scheduler and the controllers (both leader-elected) are running.
* Its gRPC API: {layout.apiserver_listen}; the cluster's apiservers: {layout.apiserver_address}

Give the other nodes' components this member too (--apiserver takes a comma-separated list).""")
    return 0
