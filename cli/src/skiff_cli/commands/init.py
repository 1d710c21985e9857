"""`skiff init`: a control plane on this host (etcd, apiserver, scheduler, controllers and this host's
node), a bootstrap token, and the command other nodes join with, as `kubeadm init` prints it."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from .. import kubeconfig
from ..clientconfig import save_client_config
from ..cluster import certkeys
from ..cluster.layout import ClusterLayout
from ..cluster.local import ClusterError, LocalCluster
from ..cluster.members import Member, record_member
from ..cluster.tokens import create_token, join_command
from .token import parse_ttl


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="set up a control plane here and print the join command")
    p.add_argument("--state-dir", type=Path, default=ClusterLayout.state_dir)
    p.add_argument("--node-name", default=ClusterLayout.node_name)
    p.add_argument("--pod-cidr", default=ClusterLayout.pod_cidr)
    p.add_argument(
        "--upload-certs",
        action="store_true",
        help="upload the shared keys (encrypted) to kube-system/kubeadm-certs and print the control-plane join",
    )
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
    asyncio.run(record_member(admin, Member.of(layout)))  # the first control-plane member, for --control-plane joins
    save_client_config(admin)
    kubeconfig.merge(layout.rest_url, cluster.tls["admin"])

    certificate_key = certkeys.new_key() if args.upload_certs else ""

    async def token() -> str:
        from skiff_client.api import ApiClient

        client = ApiClient.connect(admin.server, tls=admin.tls)
        try:
            made = await create_token(client, ttl, description="made by skiff init")
            if certificate_key:
                await certkeys.upload(client, layout.pki_dir, certificate_key)
        finally:
            await client.close()
        return join_command(layout.join_address, made, cluster.pki.path("ca").read_bytes())

    command = asyncio.run(token())
    if certificate_key:
        print(f"""
You can now join any number of control-plane nodes (stacked etcd) by running on each as root:

  {command} --control-plane --certificate-key {certificate_key}

The shared keys in kube-system/{certkeys.SECRET} are deleted in 2 hours; `skiff token create --upload-certs`
uploads them again.""")
    print(f"""
Your Skiff control-plane has initialized successfully!

Then you can join any number of worker nodes by running the following on each as root:

  {command}
""")
    return 0
