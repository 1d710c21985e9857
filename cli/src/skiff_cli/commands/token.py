"""`skiff token create|list|delete`: bootstrap tokens, as `kubeadm token`.

    skiff token create [--ttl 24h] [--description TEXT] [--print-join-command] [--upload-certs [--certificate-key K]]
    skiff token list
    skiff token delete TOKEN_ID|TOKEN...

Tokens are Secrets of type bootstrap.kubernetes.io/token in kube-system; `--ttl 0` never expires.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

from skiff.api.core.v1 import config_pb2
from skiff_common.bootstrap import clusterinfo

from ..cluster import certkeys
from ..cluster.layout import ClusterLayout
from ..cluster.tokens import create_token, delete_token, join_command, list_tokens
from ._context import api_client

_TTL = re.compile(r"^(\d+)(s|m|h|d)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_ttl(value: str) -> dt.timedelta | None:
    m = _TTL.match(value.strip())
    if not m:
        raise SystemExit(f"error: --ttl: invalid duration {value!r} (use e.g. 30m, 24h, 0 for never)")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    return dt.timedelta(seconds=seconds) if seconds else None


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="manage bootstrap tokens (skiff join)")
    actions = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a bootstrap token")
    create.add_argument("--ttl", default="24h", help="how long the token is valid (0: forever)")
    create.add_argument("--description", default="")
    create.add_argument("--print-join-command", action="store_true", help="print the whole join command")
    create.add_argument(
        "--upload-certs",
        action="store_true",
        help="also upload the shared keys (encrypted) to kube-system/kubeadm-certs for `skiff join --control-plane`",
    )
    create.add_argument("--certificate-key", default="", help="with --upload-certs: this key (hex), else a new one")
    create.add_argument(
        "--state-dir", type=Path, default=ClusterLayout.state_dir, help="with --upload-certs: whose pki to upload"
    )
    create.set_defaults(run=run_create)
    listing = actions.add_parser("list", help="list bootstrap tokens")
    listing.set_defaults(run=run_list)
    delete = actions.add_parser("delete", help="delete bootstrap tokens")
    delete.add_argument("tokens", nargs="+", metavar="TOKEN")
    delete.set_defaults(run=run_delete)


async def run_create(args: argparse.Namespace) -> int:
    ttl = parse_ttl(args.ttl)
    async with api_client() as client:
        made = await create_token(client, ttl, description=args.description)
        key = ""
        if args.upload_certs:
            key = args.certificate_key or certkeys.new_key()
            try:
                await certkeys.upload(client, ClusterLayout.load(args.state_dir).pki_dir, key)
            except (certkeys.CertKeyError, OSError) as exc:
                print(f"error: --upload-certs: {exc}")
                return 1
            print(f"[upload-certs] the shared keys are in kube-system/{certkeys.SECRET} for 2 h, under this key:")
            print(key)
        if args.print_join_command:
            # the address and CA joining nodes will see: the ones cluster-info publishes
            cm = await client.get(config_pb2.ConfigMap, clusterinfo.NAME, clusterinfo.NAMESPACE)
            info = clusterinfo.parse_kubeconfig(cm.data.get(clusterinfo.KUBECONFIG_KEY, ""))
            command = join_command(info.server.removeprefix("https://"), made, info.ca_pem)
            print(f"{command} --control-plane --certificate-key {key}" if key else command)
        else:
            print(made.value)
    return 0


def _ttl_left(expiration: dt.datetime | None) -> str:
    if expiration is None:
        return "<forever>"
    left = expiration - dt.datetime.now(dt.UTC)
    if left.total_seconds() <= 0:
        return "<invalid>"
    hours = int(left.total_seconds() // 3600)
    return f"{hours}h" if hours else f"{int(left.total_seconds() // 60)}m"


async def run_list(args: argparse.Namespace) -> int:
    async with api_client() as client:
        tokens = await list_tokens(client)
    row = "{:<24} {:<10} {:<21} {:<26} {:<30} {}"
    print(row.format("TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"))
    for t in tokens:
        expires = t.expiration.strftime("%Y-%m-%dT%H:%M:%SZ") if t.expiration else "<never>"
        print(
            row.format(
                f"{t.id}.<secret>"[:24],
                _ttl_left(t.expiration),
                expires,
                ",".join(t.usages),
                t.description or "<none>",
                ",".join(t.groups),
            )
        )
    return 0


async def run_delete(args: argparse.Namespace) -> int:
    async with api_client() as client:
        for value in args.tokens:
            print(f'bootstrap token "{await delete_token(client, value)}" deleted')
    return 0
