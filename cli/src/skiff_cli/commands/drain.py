"""`skiff cordon|uncordon|drain NODE`: mark a node (un)schedulable, and empty it through the eviction API.

drain is kubectl's: cordon, then evict every pod on the node except mirror pods; DaemonSet pods stop
the drain unless --ignore-daemonsets (then they stay, the DaemonSet would re-create them anyway); pods
with emptyDir data need --delete-emptydir-data; pods no controller owns need --force (nothing re-creates
them). Each eviction honours PodDisruptionBudgets on the server (429 -> retried), and drain waits until
the pods are gone.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..kube import writes
from ..kube.errors import ApiError, CliError
from ..kube.resources import Resource
from ..kube.session import Session
from ..kube.targets import objects_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    for verb, help in (("cordon", "mark nodes unschedulable"), ("uncordon", "mark nodes schedulable")):
        p = sub.add_parser(verb, help=help)
        p.add_argument("nodes", nargs="*")
        p.add_argument("-l", "--selector", default="")
        writes.add_write_flags(p)
        p.set_defaults(run=lambda a, v=verb: run_cordon(a, v == "cordon"), positionals_into="nodes")
    d = sub.add_parser("drain", help="cordon a node and evict its pods")
    d.add_argument("nodes", nargs="*")
    d.add_argument("-l", "--selector", default="")
    d.add_argument("--pod-selector", default="")
    d.add_argument("--ignore-daemonsets", action="store_true")
    d.add_argument("--delete-emptydir-data", action="store_true")
    d.add_argument("--force", action="store_true", help="also delete pods no controller manages")
    d.add_argument("--grace-period", type=int, default=-1)
    d.add_argument("--timeout", type=float, default=0, help="seconds (0: no limit)")
    d.add_argument("--disable-eviction", action="store_true", help="delete instead of evicting")
    writes.add_write_flags(d)
    d.set_defaults(run=run_drain, positionals_into="nodes")


def nodes(s: Session, args: argparse.Namespace) -> list[tuple[Resource, dict[str, Any]]]:
    if not args.nodes and not args.selector:
        raise CliError("error: USAGE: cordon NODE [flags]\nSee 'skiff cordon -h' for help and examples")
    words = ["nodes", *args.nodes] if args.nodes else ["nodes"]
    return list(objects_of(s, args, words))


def cordon(s: Session, args: argparse.Namespace, res: Resource, node: dict[str, Any], on: bool) -> None:
    name = node["metadata"]["name"]
    if bool(node.get("spec", {}).get("unschedulable")) == on:
        print(f"node/{name} already {'cordoned' if on else 'uncordoned'}")
        return
    if not writes.client_dry_run(args):
        s.rest.request(
            "PATCH",
            res.path("", name),
            body={"spec": {"unschedulable": True if on else None}},
            params=writes.params(args),
            content_type="application/merge-patch+json",
        )
    print(f"node/{name} {'cordoned' if on else 'uncordoned'}{writes.suffix(args)}")


def run_cordon(args: argparse.Namespace, on: bool) -> int:
    s = Session(args)
    args.all = not args.nodes
    for res, node in nodes(s, args):
        cordon(s, args, res, node, on)
    return 0


def _owner(pod: dict[str, Any]) -> dict[str, Any] | None:
    return next((o for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller")), None)


def classify(pods: list[dict[str, Any]], args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """(pods to evict, warnings, errors) by kubectl's filters."""
    evict, daemon, errors = [], [], []
    unmanaged, local = [], []
    for pod in pods:
        meta = pod["metadata"]
        ident = f"{meta['namespace']}/{meta['name']}"
        if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
            continue
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            evict.append(pod)
            continue
        owner = _owner(pod)
        if owner and owner.get("kind") == "DaemonSet":
            daemon.append(ident)
            continue
        if not owner:
            unmanaged.append(ident)
        if any("emptyDir" in v for v in pod.get("spec", {}).get("volumes") or []):
            local.append(ident)
        evict.append(pod)
    warnings = []
    if daemon:
        if args.ignore_daemonsets:
            warnings.append(f"ignoring DaemonSet-managed Pods: {', '.join(daemon)}")
        else:
            errors.append(
                f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): {', '.join(daemon)}"
            )
    if unmanaged:
        if args.force:
            warnings.append(f"deleting Pods that declare no controller: {', '.join(unmanaged)}")
        else:
            errors.append(
                "cannot delete Pods that declare no controller (use --force to override): " + ", ".join(unmanaged)
            )
    if local and not args.delete_emptydir_data:
        errors.append(
            f"cannot delete Pods with local storage (use --delete-emptydir-data to override): {', '.join(local)}"
        )
    return evict, warnings, errors


def run_drain(args: argparse.Namespace) -> int:
    s = Session(args)
    args.all = not args.nodes
    pods_res = s.mapper.lookup("pods")
    for res, node in nodes(s, args):
        name = node["metadata"]["name"]
        cordon(s, args, res, node, True)
        pods = (
            s.rest.get(
                "/api/v1/pods", params={"fieldSelector": f"spec.nodeName={name}", "labelSelector": args.pod_selector}
            ).get("items")
            or []
        )
        evict, warnings, errors = classify(pods, args)
        if errors:
            raise CliError(
                f'error: unable to drain node "{name}" due to error: cannot delete '
                + ", cannot delete ".join(e.removeprefix("cannot delete ") for e in errors)
                + ", continuing command...\nThere are pending nodes to be drained:\n "
                + name
            )
        for w in warnings:
            print(f"Warning: {w}", file=sys.stderr)
        deadline = time.monotonic() + (args.timeout or 10**9)
        for pod in evict:
            meta = pod["metadata"]
            print(f"evicting pod {meta['namespace']}/{meta['name']}")
            if not writes.client_dry_run(args):
                _evict(s, args, pods_res, meta, deadline)
        for pod in evict:
            meta = pod["metadata"]
            if not writes.client_dry_run(args):
                _wait_gone(s, pods_res, meta, deadline)
            print(f"pod/{meta['name']} evicted")
        print(f"node/{name} drained{writes.suffix(args)}")
    return 0


def _evict(s: Session, args: argparse.Namespace, pods: Resource, meta: dict[str, Any], deadline: float) -> None:
    body: dict[str, Any] = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }
    if args.grace_period >= 0:
        body["deleteOptions"] = {"gracePeriodSeconds": args.grace_period}
    while True:
        try:
            if args.disable_eviction:
                s.rest.request("DELETE", pods.path(meta["namespace"], meta["name"]), body=body.get("deleteOptions"))
            else:
                s.rest.request("POST", pods.path(meta["namespace"], meta["name"], "eviction"), body=body)
            return
        except ApiError as err:
            if err.http_code == 404:
                return
            if err.http_code != 429 or time.monotonic() > deadline:
                raise
            print(
                f'error when evicting pods/"{meta["name"]}" -n "{meta["namespace"]}" (will retry after 5s): '
                f"{err.status.get('message', '')}",
                file=sys.stderr,
            )
            time.sleep(5)


def _wait_gone(s: Session, pods: Resource, meta: dict[str, Any], deadline: float) -> None:
    while True:
        try:
            current = s.get(pods, meta["name"], meta["namespace"])
        except ApiError as err:
            if err.http_code == 404:
                return
            raise
        if current["metadata"].get("uid") != meta.get("uid"):
            return
        if time.monotonic() > deadline:
            raise CliError(f"error: drain did not complete within the timeout: pod {meta['name']} is still there")
        time.sleep(0.5)
