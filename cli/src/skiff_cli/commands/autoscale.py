"""`skiff autoscale deployment NAME --min=1 --max=10 --cpu-percent=50`: create a HorizontalPodAutoscaler,
as `kubectl autoscale` does (autoscaling/v2, named after the target unless --name, target checked first)."""

from __future__ import annotations

import argparse

from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.meta.v1 import meta_pb2

from ._context import add_namespace_flags, api_client, namespace_of, resolve_resource


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("autoscale", help="create a HorizontalPodAutoscaler for a deployment or replicaset")
    p.add_argument("resource", help="kind of the target: deployment, replicaset (or resource/name)")
    p.add_argument("name", nargs="?", default="")
    p.add_argument("--min", type=int, default=-1, help="lower limit of replicas (default: the server's, 1)")
    p.add_argument("--max", type=int, required=True, help="upper limit of replicas")
    p.add_argument("--cpu-percent", type=int, default=-1, help="target average CPU utilization (% of request)")
    p.add_argument("--name", dest="hpa_name", default="", help="name of the autoscaler (default: the target's)")
    p.add_argument("--dry-run", choices=("none", "server", "client"), default="none")
    add_namespace_flags(p)
    p.set_defaults(run=run)


def build(
    args: argparse.Namespace, kind: str, api_version: str, name: str, namespace: str
) -> hpa_pb2.HorizontalPodAutoscaler:
    if args.max < 1:
        raise SystemExit("error: --max=MAXPODS is required and must be at least 1")
    if args.min > args.max:
        raise SystemExit(f"error: --max={args.max} must be larger or equal to --min={args.min}")
    hpa = hpa_pb2.HorizontalPodAutoscaler(
        api_version="autoscaling/v2",
        kind="HorizontalPodAutoscaler",
        metadata=meta_pb2.ObjectMeta(name=args.hpa_name or name, namespace=namespace),
    )
    ref = hpa.spec.scale_target_ref
    ref.api_version, ref.kind, ref.name = api_version, kind, name
    hpa.spec.max_replicas = args.max
    if args.min >= 0:
        hpa.spec.min_replicas = args.min
    if args.cpu_percent >= 0:
        m = hpa.spec.metrics.add(type="Resource")
        m.resource.name = "cpu"
        m.resource.target.type = "Utilization"
        m.resource.target.average_utilization = args.cpu_percent
    return hpa


async def run(args: argparse.Namespace) -> int:
    resource, _, name = args.resource.partition("/")
    name = name or args.name
    if not name:
        raise SystemExit("error: a target name is required: skiff autoscale deployment NAME --max=N")
    info = resolve_resource(resource)
    if "scale" not in info.subresources:
        raise SystemExit(f"error: cannot autoscale a {info.kind}: it has no scale subresource")
    namespace = namespace_of(args)
    hpa = build(args, info.kind, info.api_version, name, namespace)
    async with api_client() as client:
        await client.get_scale(info.resource, name, namespace)  # the target exists and is scalable
        if args.dry_run != "client":
            await client.create(hpa, dry_run=args.dry_run == "server")
    suffix = f" ({args.dry_run} dry run)" if args.dry_run != "none" else ""
    print(f"horizontalpodautoscaler.autoscaling/{hpa.metadata.name} autoscaled{suffix}")
    return 0
