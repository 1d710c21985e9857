"""`skiff certs --dir DIR`: make the cluster's CA and one certificate per component (idempotent), and
under DIR/etcd the store's own CA with etcd's server certificate and the apiserver's client certificate.

`skiff up` does this itself; the command exists for docker-compose and Helm installs, where the
certificates are made once into a shared volume or a Secret.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from skiff_common.tls import ensure_cluster_pki

from ..cluster.components import CLIENT_IDENTITIES, COMPONENTS, ETCD_IDENTITIES, ETCD_PKI_SUBDIR


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("certs", help="make the cluster CA and component certificates")
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--hosts", default="127.0.0.1,localhost", help="comma-separated names and IPs for the SANs")
    p.add_argument("--owner", type=int, default=None, help="chown the files to this uid (for non-root services)")
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    pki = ensure_cluster_pki(args.dir, components=[*COMPONENTS, *CLIENT_IDENTITIES], hosts=hosts)
    etcd_dir = args.dir / ETCD_PKI_SUBDIR
    etcd_pki = ensure_cluster_pki(etcd_dir, components=ETCD_IDENTITIES, hosts=hosts)
    if args.owner is not None:
        for path in [*args.dir.iterdir(), *etcd_dir.iterdir()]:
            os.chown(path, args.owner, args.owner)
    for name in pki:
        print(f"{name}: {pki[name].cert_file}")
    for name in etcd_pki:
        print(f"etcd {name}: {etcd_pki[name].cert_file}")
    return 0
