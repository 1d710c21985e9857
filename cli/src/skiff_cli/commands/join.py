"""`skiff join ADDRESS --token ID.SECRET --discovery-token-ca-cert-hash sha256:HASH`, as `kubeadm join`.

Discovery first (cluster/discovery.py): cluster-info is read, its JWS is checked with the token and its
CA with the pinned hash, and the server must chain to that CA; any mismatch ends the join with a
message naming it. Then the node's runtime and kubelet start, and the kubelet's TLS bootstrap gets the
node its own certificates by CSR (cluster/joining.py); the join ends when the Node is Ready.

On one machine beside the control plane, each joined node needs its own state folder (--state-dir),
node name and pod CIDR; its ports, bridge and cgroup root are chosen from its name.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import socket
from pathlib import Path

from skiff_common.bootstrap.token import TokenError

from ..cluster.discovery import DiscoveryError, discover
from ..cluster.joining import JoinedNode, JoinError
from ..cluster.layout import ClusterLayout


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
    p.add_argument("--node-name", default=socket.gethostname().lower(), help="this node's name")
    p.add_argument("--pod-cidr", default="10.89.0.0/16", help="this node's pod CIDR")
    p.add_argument("--state-dir", type=Path, default=ClusterLayout.state_dir)
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
    try:
        found = discover(args.address, args.token, args.ca_hashes)
    except (DiscoveryError, TokenError) as exc:
        print(f"error: discovery refused: {exc}")
        return 1
    print(f"[discovery] cluster-info is signed with token {found.token_id} and its CA is pinned")
    print(f"[discovery] the API server at {found.server} chains to the pinned CA")
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
