"""`skiff logs POD`: print (or follow) a container's output, from the kubelet that runs it."""

from __future__ import annotations

import argparse
import sys

from skiff.kubelet.v1 import kubelet_pb2

from ._context import add_namespace_flags, api_client, namespace_of
from ._kubelet import container_name, kubelet_for_pod


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("logs", help="print a container's logs")
    p.add_argument("pod")
    p.add_argument("-c", "--container", default="")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("--tail", type=int, default=-1, help="only the last N lines")
    p.add_argument("--timestamps", action="store_true")
    p.add_argument("-p", "--previous", action="store_true", help="the previous instance of the container")
    add_namespace_flags(p)
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    namespace = namespace_of(args)
    async with api_client() as client:
        pod, kubelet, channel = await kubelet_for_pod(client, args.pod, namespace)
        request = kubelet_pb2.ContainerLogsRequest(
            namespace=namespace,
            pod=args.pod,
            container=container_name(pod, args.container),
            follow=args.follow,
            tail_lines=max(args.tail, 0),
            timestamps=args.timestamps,
            previous=args.previous,
        )
        try:
            async for entry in kubelet.ContainerLogs(request):
                prefix = f"{entry.timestamp} " if args.timestamps else ""
                sys.stdout.buffer.write(prefix.encode() + entry.line + b"\n")
                sys.stdout.flush()
        finally:
            await channel.close()  # type: ignore[attr-defined]
    return 0
