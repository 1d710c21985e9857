"""`skiff reset`: undo `skiff join` on this node, as `kubeadm reset` (stop the node's kubelet and
runtime, remove its pods, bridge, cgroups and mounts, delete its certificates and bootstrap kubeconfig).
On a control-plane host use `skiff down --purge`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cluster.joining import BOOTSTRAP_KUBECONFIG, JoinedNode
from ..cluster.layout import LAYOUT_FILE, ClusterLayout


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reset", help="undo skiff join on this node")
    p.add_argument("--state-dir", type=Path, default=ClusterLayout.state_dir)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not (args.state_dir / LAYOUT_FILE).exists():
        print(f"error: no joined node in {args.state_dir} (no {LAYOUT_FILE})")
        return 1
    if (args.state_dir / "etcd").exists() and not (args.state_dir / BOOTSTRAP_KUBECONFIG).exists():
        print(f"error: {args.state_dir} holds a control plane, not a joined node: use `skiff down --purge`")
        return 1
    layout = ClusterLayout.load(args.state_dir)
    JoinedNode(layout).reset()
    (args.state_dir / LAYOUT_FILE).unlink(missing_ok=True)
    print(f"node {layout.node_name} was reset: its processes, pods, bridge, cgroups and certificates are gone")
    return 0
