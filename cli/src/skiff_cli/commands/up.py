"""`skiff up` and `skiff down`: a one-node local cluster made of plain processes."""

from __future__ import annotations

import argparse
from pathlib import Path

from skiff_common.bootstrap.token import TokenError

from .. import kubeconfig
from ..clientconfig import config_path, save_client_config
from ..cluster import controlplane, multinode
from ..cluster.certkeys import CertKeyError
from ..cluster.discovery import DiscoveryError
from ..cluster.joining import JoinError
from ..cluster.layout import ClusterLayout
from ..cluster.local import ClusterError, LocalCluster
from ..cluster.members import MemberError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("up", help="start a local one-node cluster (etcd and the five services)")
    down = sub.add_parser("down", help="stop the local cluster and clean up after it")
    for p in (up, down):
        p.add_argument(
            "--state-dir", type=Path, default=ClusterLayout.state_dir, help="where the cluster keeps its files"
        )
    up.add_argument("--node-name", default=ClusterLayout.node_name)
    up.add_argument("--pod-cidr", default=ClusterLayout.pod_cidr)
    up.add_argument(
        "--nodes", type=int, default=1, help="nodes in all: the first runs the control plane, the rest join"
    )
    up.add_argument(
        "--control-planes",
        type=int,
        default=None,
        help="control-plane members (stacked etcd, apiserver, scheduler, controllers): the first node's and N-1 "
        "more; on a running cluster adds or removes members (default: as many as it has)",
    )
    up.add_argument("--fake-gpus", type=int, default=0, help="run the sample device plugin with N example.com/gpu")
    up.add_argument("--prometheus-url", default="", help="Prometheus answering custom and external metrics")
    up.add_argument(
        "--custom-metrics-rules",
        default="",
        help="prometheus-adapter rule file for --prometheus-url (rules, externalRules)",
    )
    up.set_defaults(run=run_up)
    down.add_argument("--purge", action="store_true", help="also delete the state folder (etcd data, images)")
    down.set_defaults(run=run_down)


def run_up(args: argparse.Namespace) -> int:
    if args.nodes < 1:
        print("error: --nodes: must be at least 1")
        return 1
    if args.control_planes is not None and args.control_planes < 1:
        print("error: --control-planes: must be at least 1")
        return 1
    if bool(args.prometheus_url) != bool(args.custom_metrics_rules):
        print("error: --prometheus-url and --custom-metrics-rules: give both or neither")
        return 1
    layout = ClusterLayout(
        state_dir=args.state_dir,
        node_name=args.node_name,
        pod_cidr=args.pod_cidr,
        fake_gpus=args.fake_gpus,
        prometheus_url=args.prometheus_url,
        custom_metrics_rules=str(Path(args.custom_metrics_rules).resolve()) if args.custom_metrics_rules else "",
    )
    saved = ClusterLayout.load(args.state_dir)
    # A running one-node cluster growing: onto the node network first (bridge, certificate, restarts).
    switch = multinode.needs_node_network(saved, args.nodes)
    if switch:
        print("moving the running one-node cluster onto the node network (restarting its components)")
    if args.nodes > 1 or saved.node_cidr:
        multinode.use_node_network(layout)  # each worker in a namespace of its own, on the node bridge
    # Components (re)started by `up` dial every member already there.
    recorded = controlplane.recorded_members(layout)
    controlplane.peers_of(layout, [layout, *recorded])
    control_planes = args.control_planes or 1 + len(recorded)
    cluster = LocalCluster(layout)
    try:
        cluster.up(restart=switch)
        if control_planes > 1 or recorded:
            controlplane.scale(layout, cluster.client_config(), control_planes, print)
        if args.nodes > 1:
            multinode.add_workers(
                layout, cluster.client_config(), cluster.pki.path("ca").read_bytes(), args.nodes, print
            )
    except (ClusterError, JoinError, MemberError, DiscoveryError, TokenError, CertKeyError) as exc:
        print(f"error: {exc}")
        return 1
    path = save_client_config(cluster.client_config())
    kube = kubeconfig.merge(layout.rest_url, cluster.tls["admin"])
    ready = f"node {layout.node_name} is Ready" if args.nodes == 1 else f"{args.nodes} nodes are Ready"
    if control_planes > 1:
        ready += f", {control_planes} control-plane members (apiservers {layout.apiserver_address})"
    print(f"""
The cluster is up: {ready}.
  client config:  {path}
  kubectl:        context "skiff" in {kube} ({layout.rest_url}), now current
  logs:           {layout.log_dir}/
  metrics:        {", ".join(f"{n} {_scheme(n)}://{layout.metrics_address(n)}/metrics" for n in layout.metrics_ports)}

Try:
  skiff apply -f examples/hello-pod.yaml
  skiff get pods -o wide
  skiff logs hello
  skiff delete pod hello
  skiff down""")
    return 0


def _scheme(component: str) -> str:
    """The kubelet's stats port is HTTPS (and authorizes its callers); the others serve plain HTTP."""
    return "https" if component == "kubelet" else "http"


def run_down(args: argparse.Namespace) -> int:
    layout = ClusterLayout.load(args.state_dir)
    multinode.remove_workers(layout, print)
    controlplane.remove_all(layout, print)
    LocalCluster(layout).down()
    kubeconfig.remove()
    if args.purge:
        import shutil

        shutil.rmtree(layout.state_dir, ignore_errors=True)
        config_path().unlink(missing_ok=True)
        print(f"removed {layout.state_dir}")
    print("the cluster is down")
    return 0
