"""`skiff exec POD -- COMMAND...`: run a command in a running container and print its output."""

from __future__ import annotations

import argparse
import sys

from skiff.kubelet.v1 import kubelet_pb2

from ._context import add_namespace_flags, api_client, namespace_of
from ._kubelet import container_name, kubelet_for_pod


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exec", help="run a command in a container")
    p.add_argument("pod")
    p.add_argument("-c", "--container", default="")
    p.add_argument("--timeout", type=int, default=0, help="seconds; 0 means no limit")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    add_namespace_flags(p)
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise SystemExit("error: you must specify at least one command for the container")
    namespace = namespace_of(args)
    async with api_client() as client:
        pod, kubelet, channel = await kubelet_for_pod(client, args.pod, namespace)
        try:
            result = await kubelet.Exec(
                kubelet_pb2.ExecRequest(
                    namespace=namespace,
                    pod=args.pod,
                    container=container_name(pod, args.container),
                    command=command,
                    timeout_seconds=args.timeout,
                )
            )
        finally:
            await channel.close()  # type: ignore[attr-defined]
    sys.stdout.buffer.write(result.stdout)
    sys.stderr.buffer.write(result.stderr)
    sys.stdout.flush()
    return result.exit_code
