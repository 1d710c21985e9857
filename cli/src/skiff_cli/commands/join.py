"""`skiff join ADDRESS --token ID.SECRET --discovery-token-ca-cert-hash sha256:HASH`, as `kubeadm join`.

Discovery first (cluster/discovery.py): cluster-info is read, its JWS is checked with the token and its
CA with the pinned hash, and the server must chain to that CA; any mismatch ends the join with a
message naming it. Then the node's TLS bootstrap (cluster/joining.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from skiff_common.bootstrap.token import TokenError

from ..cluster.discovery import DiscoveryError, discover
from ..cluster.layout import ClusterLayout


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("join", help="join this host to a cluster as a node (token discovery)")
    p.add_argument("address", help="the cluster's API address host:port, as `skiff init` printed it")
    p.add_argument("--token", required=True, help="a bootstrap token <id>.<secret>")
    p.add_argument(
        "--discovery-token-ca-cert-hash",
        action="append",
        default=[],
        dest="ca_hashes",
        help="sha256:<hex> of the cluster CA's public key (repeatable)",
    )
    p.add_argument("--node-name", default=None, help="this node's name")
    p.add_argument("--state-dir", type=Path, default=ClusterLayout.state_dir)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        found = discover(args.address, args.token, args.ca_hashes)
    except (DiscoveryError, TokenError) as exc:
        print(f"error: discovery refused: {exc}")
        return 1
    print(f"[discovery] cluster-info is signed with token {found.token_id} and its CA is pinned")
    print(f"[discovery] the API server at {found.server} chains to the pinned CA")
    return 0
