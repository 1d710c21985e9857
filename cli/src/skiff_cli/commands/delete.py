"""`skiff delete RESOURCE NAME` or `skiff delete -f FILE`: delete, and wait until the objects are gone.

A pod's deletion is graceful: the kubelet stops its containers within the grace period and then
confirms the final delete. Like kubectl, we wait for that (unless --wait=false), so that when the
command returns the pod's processes, mounts and cgroups are gone.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from skiff_common.apimachinery.convert import load_manifests
from skiff_common.apimachinery.kinds import KindInfo, kind_of
from skiff_common.errors import NotFound

from ._context import add_namespace_flags, api_client, namespace_of, resolve_resource
from .apply import read_manifest


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("delete", help="delete objects by name or from a manifest")
    p.add_argument("resource", nargs="?", help="a resource type: pod, deployment, ...")
    p.add_argument("names", nargs="*", help="the objects' names")
    p.add_argument("-f", "--filename", help="delete the objects named in this manifest")
    p.add_argument("--grace-period", type=int, default=None, help="seconds to let pods stop (0: at once)")
    p.add_argument("--now", action="store_true", help="same as --grace-period=1")
    p.add_argument("--wait", default="true", choices=["true", "false"], help="wait until the objects are gone")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait")
    p.add_argument("--ignore-not-found", action="store_true")
    add_namespace_flags(p)
    p.set_defaults(run=run)


def targets(args: argparse.Namespace) -> list[tuple[KindInfo, str, str]]:
    namespace = namespace_of(args)
    if args.filename:
        found = []
        for obj in load_manifests(read_manifest(args.filename)):
            info = kind_of(obj)
            ns = (obj.metadata.namespace or namespace) if info.namespaced else ""  # type: ignore[attr-defined]
            found.append((info, ns, obj.metadata.name))  # type: ignore[attr-defined]
        return found
    if not args.resource or not args.names:
        raise SystemExit("error: give a resource and names (skiff delete pod NAME), or -f FILE")
    info = resolve_resource(args.resource)
    return [(info, namespace if info.namespaced else "", name) for name in args.names]


async def run(args: argparse.Namespace) -> int:
    grace = 1 if args.now else args.grace_period
    async with api_client() as client:
        pending = []
        for info, namespace, name in targets(args):
            try:
                await client.delete(info.message, name, namespace, grace_period_seconds=grace)
            except NotFound:
                if args.ignore_not_found:
                    continue
                raise
            print(f'{info.singular} "{name}" deleted')
            pending.append((info, namespace, name))
        if args.wait == "true":
            deadline = time.monotonic() + args.timeout
            for info, namespace, name in pending:
                while True:
                    try:
                        await client.get(info.message, name, namespace)
                    except NotFound:
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"error: timed out waiting for {info.singular}/{name} to be deleted")
                    await asyncio.sleep(0.2)
    return 0
