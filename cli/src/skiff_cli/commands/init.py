"""`skiff init`: a control plane on this host (etcd, apiserver, scheduler, controllers and this host's
node), a bootstrap token, and the command other nodes join with, as `kubeadm init` prints it."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from .. import kubeconfig
from ..clientconfig import save_client_config
from ..cluster.layout import ClusterLayout
from ..cluster.local import ClusterError, LocalCluster
from ..cluster.tokens import create_token, join_command
from .token import parse_ttl


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="set up a control plane here and print the join command")
    p.add_argument("--state-dir", type=Path, default=ClusterLayout.state_dir)
    p.add_argument("--node-name", default=ClusterLayout.node_name)
    p.add_argument("--pod-cidr", default=ClusterLayout.pod_cidr)
    p.add_argument("--token-ttl", default="24h", help="how long the printed token is valid (0: forever)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ttl = parse_ttl(args.token_ttl)
    layout = ClusterLayout(state_dir=args.state_dir, node_name=args.node_name, pod_cidr=args.pod_cidr)
    cluster = LocalCluster(layout)
    try:
        cluster.up()
    except ClusterError as exc:
        print(f"error: {exc}")
        return 1
    admin = cluster.client_config()
    save_client_config(admin)
    kubeconfig.merge(layout.rest_url, cluster.tls["admin"])

    async def token() -> str:
        from skiff_client.api import ApiClient

        client = ApiClient.connect(admin.server, tls=admin.tls)
        try:
            made = await create_token(client, ttl, description="made by skiff init")
        finally:
            await client.close()
        return join_command(layout.join_address, made, cluster.pki.path("ca").read_bytes())

    command = asyncio.run(token())
    print(f"""
Your Skiff control-plane has initialized successfully!

Then you can join any number of worker nodes by running the following on each as root:

  {command}
""")
    return 0
