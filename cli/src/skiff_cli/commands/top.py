"""`skiff top nodes|pods`: CPU and memory usage from metrics.k8s.io, printed as `kubectl top` prints it.

The numbers come from the Kubernetes REST API's aggregated `metrics.k8s.io/v1beta1` (served by
skiff-metrics behind the apiserver), exactly the requests kubectl top makes, so both commands always
agree. The REST endpoint is the kubeconfig context whose cluster uses the same CA as the skiff client
config (`skiff up` writes both); node percentages are of the Node's allocatable, read over gRPC.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from skiff.api.core.v1 import node_pb2
from skiff_common.apimachinery.labels import parse_selector
from skiff_common.apimachinery.quantity import int_value, milli_value

from ..clientconfig import load_client_config
from ..kubeconfig import kubeconfig_path
from ._context import add_namespace_flags, api_client, namespace_of

API = "/apis/metrics.k8s.io/v1beta1"


def add_parser(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser("top", help="display resource (CPU/memory) usage of nodes or pods")
    kinds = top.add_subparsers(dest="top_kind", required=True, metavar="RESOURCE")
    for name, aliases in (("nodes", ["node", "no"]), ("pods", ["pod", "po"])):
        p = kinds.add_parser(name, aliases=aliases, help=f"usage of {name}")
        p.add_argument("name", nargs="?", default="")
        p.add_argument("-l", "--selector", default="", help="label selector, e.g. app=web")
        p.add_argument("--sort-by", choices=("cpu", "memory"), default="", help="sort by cpu or memory (descending)")
        p.add_argument("--no-headers", action="store_true")
        if name == "pods":
            p.add_argument("--containers", action="store_true", help="usage of each container")
            add_namespace_flags(p, all_namespaces=True)
        p.set_defaults(run=run_nodes if name == "nodes" else run_pods)


class RestEndpoint:
    """The REST API of the cluster the skiff config points at, with its client certificate."""

    def __init__(self, server: str, context: ssl.SSLContext) -> None:
        self.server = server.rstrip("/")
        self.context = context

    @classmethod
    def find(cls, kubeconfig: Path | None = None) -> RestEndpoint:
        client = load_client_config()
        path = kubeconfig or kubeconfig_path()
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError:
            data = {}
        clusters = {c.get("name"): c.get("cluster", {}) for c in data.get("clusters") or []}
        users = {u.get("name"): u.get("user", {}) for u in data.get("users") or []}
        contexts = sorted(data.get("contexts") or [], key=lambda c: c.get("name") != data.get("current-context"))
        for ctx in contexts:
            cluster = clusters.get(ctx.get("context", {}).get("cluster"), {})
            user = users.get(ctx.get("context", {}).get("user"), {})
            if client.ca_file and cluster.get("certificate-authority") != client.ca_file:
                continue
            tls = ssl.create_default_context(cafile=cluster.get("certificate-authority") or None)
            if user.get("client-certificate"):
                tls.load_cert_chain(user["client-certificate"], user.get("client-key"))
            return cls(cluster["server"], tls)
        raise SystemExit(
            f"error: no context in {path} reaches this cluster's REST API (skiff top reads metrics.k8s.io there; "
            "`skiff up` adds it)"
        )

    def get(self, path: str, **query: str) -> dict[str, Any]:
        q = urllib.parse.urlencode({k: v for k, v in query.items() if v})
        url = f"{self.server}{path}" + (f"?{q}" if q else "")
        try:
            with urllib.request.urlopen(url, context=self.context, timeout=30) as resp:
                return dict(json.load(resp))
        except urllib.error.HTTPError as err:
            try:
                message = json.load(err).get("message", str(err))
            except ValueError:
                message = str(err)
            if err.code in (404, 503):
                raise SystemExit(f"error: Metrics API not available ({message})") from None
            raise SystemExit(f"error: {message}") from None
        except OSError as err:
            raise SystemExit(f"error: cannot reach {self.server}: {err}") from None


def cpu_text(q: str) -> str:
    return f"{milli_value(q)}m"


def memory_text(q: str) -> str:
    return f"{int_value(q) // (1024 * 1024)}Mi"


def render(headers: list[str], rows: list[list[str]], no_headers: bool) -> str:
    """kubectl's tabwriter: each column as wide as its widest cell, three spaces apart."""
    table = rows if no_headers else [headers, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table)


def _sort(items: list[dict[str, Any]], by: str, usage: Any) -> list[dict[str, Any]]:
    if by == "cpu":
        return sorted(items, key=lambda i: -milli_value(usage(i)["cpu"]))
    if by == "memory":
        return sorted(items, key=lambda i: -int_value(usage(i)["memory"]))
    return items


async def run_nodes(args: argparse.Namespace) -> int:
    rest = RestEndpoint.find()
    if args.name:
        items = [rest.get(f"{API}/nodes/{args.name}")]
    else:
        items = rest.get(f"{API}/nodes", labelSelector=args.selector).get("items", [])
    async with api_client() as client:
        nodes = {n.metadata.name: n for n in (await client.list(node_pb2.Node)).items}
    selector = parse_selector(args.selector)
    rows = []
    for m in _sort(items, args.sort_by, lambda i: i["usage"]):
        node = nodes.get(m["metadata"]["name"])
        alloc = node.status.allocatable if node is not None else {}
        cpu, mem = m["usage"]["cpu"], m["usage"]["memory"]
        cpu_pct = mem_pct = "<unknown>"
        if "cpu" in alloc and milli_value(alloc["cpu"].value):
            cpu_pct = f"{int(milli_value(cpu) / milli_value(alloc['cpu'].value) * 100)}%"
        if "memory" in alloc and int_value(alloc["memory"].value):
            mem_pct = f"{int(int_value(mem) / int_value(alloc['memory'].value) * 100)}%"
        rows.append([m["metadata"]["name"], cpu_text(cpu), cpu_pct, memory_text(mem), mem_pct])
    reported = {m["metadata"]["name"] for m in items}
    for name in sorted(nodes):  # nodes without metrics yet, as kubectl lists them
        if name not in reported and not args.name and selector.matches(nodes[name].metadata.labels):
            rows.append([name, "<unknown>", "<unknown>", "<unknown>", "<unknown>"])
    if not rows:
        print("error: metrics not available yet", file=sys.stderr)
        return 1
    print(render(["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"], rows, args.no_headers))
    return 0


async def run_pods(args: argparse.Namespace) -> int:
    rest = RestEndpoint.find()
    namespace = "" if args.all_namespaces else namespace_of(args)
    if args.name:
        items = [rest.get(f"{API}/namespaces/{namespace}/pods/{args.name}")]
    else:
        path = f"{API}/namespaces/{namespace}/pods" if namespace else f"{API}/pods"
        items = rest.get(path, labelSelector=args.selector).get("items", [])
    if not items:
        where = f" in {namespace} namespace" if namespace else ""
        print(f"No resources found{where}.", file=sys.stderr)
        return 0

    def total(item: dict[str, Any]) -> dict[str, str]:
        cpu = sum(milli_value(c["usage"]["cpu"]) for c in item["containers"])
        mem = sum(int_value(c["usage"]["memory"]) for c in item["containers"])
        return {"cpu": f"{cpu}m", "memory": str(mem)}

    lead = ["NAMESPACE"] if args.all_namespaces else []
    rows = []
    for m in _sort(items, args.sort_by, total):
        first = [m["metadata"]["namespace"]] if args.all_namespaces else []
        if args.containers:
            for c in m["containers"]:
                rows.append(
                    [
                        *first,
                        m["metadata"]["name"],
                        c["name"],
                        cpu_text(c["usage"]["cpu"]),
                        memory_text(c["usage"]["memory"]),
                    ]
                )
        else:
            usage = total(m)
            rows.append([*first, m["metadata"]["name"], cpu_text(usage["cpu"]), memory_text(usage["memory"])])
    headers = [*lead, "POD", "NAME"] if args.containers else [*lead, "NAME"]
    print(render([*headers, "CPU(cores)", "MEMORY(bytes)"], rows, args.no_headers))
    return 0
