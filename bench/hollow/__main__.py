"""Hollow nodes against a real control plane: ``uv run python bench/hollow --nodes 500``.

Registers N Nodes (capacity, labels, zones, optional taints), keeps their Leases in kube-node-lease
renewed every 10 s and their status fresh, and plays the kubelet's part in pods' lifecycle (bound ->
Running/Ready, deletion confirmed) without containers. Runs until SIGTERM/SIGINT or --duration, then
(with --cleanup) deletes what it registered. Prints a line of counters every --report seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hollow_nodes import HollowNodes, NodeShape
from hollow_pods import HollowPods
from skiff_client import ApiClient


def parse_taint(text: str) -> tuple[str, str, str]:
    """key=value:Effect or key:Effect."""
    try:
        kv, effect = text.rsplit(":", 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--taint {text!r}: want key=value:Effect") from None
    key, _, value = kv.partition("=")
    if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute") or not key:
        raise argparse.ArgumentTypeError(f"--taint {text!r}: effect must be NoSchedule, PreferNoSchedule or NoExecute")
    return key, value, effect


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="hollow", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--apiserver", default="127.0.0.1:6443")
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--prefix", default="hollow")
    ap.add_argument("--cpu", default="4")
    ap.add_argument("--memory", default="32Gi")
    ap.add_argument("--pods", default="110", help="allocatable pods per node")
    ap.add_argument(
        "--zones", type=int, default=3, help="spread nodes over this many topology.kubernetes.io/zone values"
    )
    ap.add_argument("--label", action="append", default=[], help="key=value on every node")
    ap.add_argument("--taint", action="append", type=parse_taint, default=[], help="key=value:Effect")
    ap.add_argument("--taint-every", type=int, default=1, help="taint every k-th node (with --taint)")
    ap.add_argument("--lease-period", type=float, default=10.0)
    ap.add_argument("--status-period", type=float, default=300.0)
    ap.add_argument("--no-pods", action="store_true", help="do not play pods' lifecycle")
    ap.add_argument("--duration", type=float, default=0.0, help="seconds to run (0: until signalled)")
    ap.add_argument("--report", type=float, default=10.0)
    ap.add_argument("--cleanup", action="store_true", help="delete the nodes and leases on exit")
    args = ap.parse_args(argv)
    if args.nodes < 1:
        ap.error("--nodes: must be at least 1")
    for item in args.label:
        if "=" not in item:
            ap.error(f"--label {item!r}: want key=value")
    return args


async def run(args: argparse.Namespace) -> None:
    api = ApiClient.connect(args.apiserver, wait_for_ready=True)
    shape = NodeShape(
        cpu=args.cpu,
        memory=args.memory,
        pods=args.pods,
        zones=args.zones,
        labels=dict(item.split("=", 1) for item in args.label),
        taints=args.taint,
        taint_every=args.taint_every if args.taint else 0,
    )
    nodes = HollowNodes(api, args.nodes, prefix=args.prefix, shape=shape, lease_period=args.lease_period,
                        status_period=args.status_period)  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    t0 = loop.time()
    await nodes.register()
    print(f"hollow: {args.nodes} nodes registered in {loop.time() - t0:.1f}s", flush=True)
    tasks = [asyncio.create_task(nodes.run_leases()), asyncio.create_task(nodes.run_status())]
    pods = None if args.no_pods else HollowPods(api, nodes.name_set)
    if pods is not None:
        tasks.append(asyncio.create_task(pods.run()))

    async def report() -> None:
        while True:
            await asyncio.sleep(args.report)
            print(
                f"hollow: leases={nodes.lease_writes} lease_failures={nodes.lease_failures} "
                f"max_lease_lag={nodes.max_lease_lag:.1f}s status={nodes.status_writes}"
                + (f" pods_running={pods.started} deletes_confirmed={pods.confirmed_deletes}" if pods else ""),
                flush=True,
            )

    tasks.append(asyncio.create_task(report()))
    if args.duration:
        try:
            await asyncio.wait_for(stop.wait(), args.duration)
        except TimeoutError:
            pass
    else:
        await stop.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if pods is not None:
        await pods.stop()
    if args.cleanup:
        await nodes.delete_all()
    await api.close()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
