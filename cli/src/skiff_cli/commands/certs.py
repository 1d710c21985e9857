"""`skiff certs`: the cluster's certificates, as `kubeadm init phase certs` and `kubeadm certs`.

    skiff certs [--dir DIR] [--hosts H,...] [--node-name N]   make what is missing (idempotent)
    skiff certs check-expiration [--dir DIR]                  every certificate, its expiry and CA
    skiff certs renew all|NAME... [--dir DIR]                 re-sign, keeping subject, usages and SANs

The first form makes the cluster CA, etcd's CA, every control-plane identity, the first node's two
kubelet certificates (skiff_common.pki.profiles lists them) and the ServiceAccount signing key sa.key;
`skiff up` does the same itself. It exists for docker-compose and Helm installs, where the certificates
are made once into a shared volume or a Secret. Components read their certificates at start-up: restart
them after `renew`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

from skiff_common.pki import ClusterPKI, control_plane_profiles, kubelet_profiles
from skiff_common.pki.expiry import check_expiration, renew

from ..cluster.layout import ClusterLayout
from ..cluster.sakey import ensure_service_account_key

DEFAULT_DIR = ClusterLayout().pki_dir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("certs", help="make, check and renew the cluster's certificates")
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"the PKI folder (default {DEFAULT_DIR})")
    p.add_argument("--hosts", default="", help="extra comma-separated names and IPs for the serving SANs")
    p.add_argument("--node-name", default=ClusterLayout.node_name, help="the first node (its kubelet certificates)")
    p.add_argument("--owner", type=int, default=None, help="chown the files to this uid (for non-root services)")
    p.set_defaults(run=run, certs_command=None)
    actions = p.add_subparsers(dest="certs_command")
    check = actions.add_parser("check-expiration", help="show when each certificate expires")
    check.add_argument("--dir", type=Path, default=argparse.SUPPRESS)
    ren = actions.add_parser("renew", help="renew certificates signed by the local CAs")
    ren.add_argument("names", nargs="+", help='"all" or certificate names as check-expiration shows them')
    ren.add_argument("--dir", type=Path, default=argparse.SUPPRESS)


async def run(args: argparse.Namespace) -> int:
    command = getattr(args, "certs_command", None)
    if command == "check-expiration":
        return check(args.dir)
    if command == "renew":
        return run_renew(args.dir, args.names)
    return make(args)


def make(args: argparse.Namespace) -> int:
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip() and h.strip() not in ("127.0.0.1", "localhost")]
    node = getattr(args, "node_name", None) or ClusterLayout.node_name
    pki = ClusterPKI(args.dir)
    made = pki.ensure([*control_plane_profiles(node, hosts), *kubelet_profiles(node, hosts)])
    sa_key = ensure_service_account_key(args.dir / "sa.key")  # kubeadm's `init phase certs sa`
    if args.owner is not None:
        for path in args.dir.rglob("*"):
            os.chown(path, args.owner, args.owner)
    for name, tls in made.items():
        print(f"{name}: {tls.cert_file}")
    print(f"sa: {sa_key}")
    return 0


def _duration(delta: dt.timedelta) -> str:
    if delta.total_seconds() <= 0:
        return "<invalid>"
    days = delta.days
    return f"{days // 365}y" if days >= 365 else f"{days}d" if days else f"{int(delta.total_seconds() // 3600)}h"


def check(directory: Path) -> int:
    statuses = check_expiration(ClusterPKI(directory))
    if not statuses:
        print(f"error: no certificates in {directory}")
        return 1
    row = "{:<34} {:<26} {:<16} {:<22} {}"
    print(row.format("CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "RENEWAL NEEDED"))
    for s in (s for s in statuses if not s.is_ca):
        expires = s.expires.strftime("%b %d, %Y %H:%M UTC")
        print(row.format(s.name, expires, _duration(s.residual), s.authority, "yes" if s.needs_renewal else "no"))
    print()
    print(row.format("CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME", "", ""))
    for s in (s for s in statuses if s.is_ca):
        print(row.format(s.name, s.expires.strftime("%b %d, %Y %H:%M UTC"), _duration(s.residual), "", ""))
    return 0


def run_renew(directory: Path, names: list[str]) -> int:
    try:
        renewed = renew(ClusterPKI(directory), None if names == ["all"] else names)
    except ValueError as exc:
        print(f"error: {exc}")
        return 1
    for name in renewed:
        print(f"certificate {name} renewed")
    print("Done renewing certificates. Restart the components that use them (skiff down && skiff up).")
    return 0
