"""`skiff logs POD|TYPE/NAME [-c C]`: a container's output through the apiserver (`pods/log`), as kubectl.

`-f` follows, `-p` the previous instance, `--tail`, `--since`, `--timestamps`; `-l SELECTOR` or a workload
(`deploy/web`) reads several pods (`--prefix` names each line's source); `--all-containers` every
container of each pod.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..kube.errors import CliError
from ..kube.session import Session


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("logs", help="print a container's logs")
    p.add_argument("target", nargs="?", default="", help="POD or TYPE/NAME")
    p.add_argument("container_arg", nargs="?", default="")
    p.add_argument("-c", "--container", default="")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-p", "--previous", action="store_true")
    p.add_argument("--tail", type=int, default=-1)
    p.add_argument("--since", default="", help="e.g. 10s, 5m, 1h")
    p.add_argument("--timestamps", action="store_true")
    p.add_argument("-l", "--selector", default="")
    p.add_argument("--all-containers", action="store_true")
    p.add_argument("--prefix", action="store_true")
    p.add_argument("--max-log-requests", type=int, default=5)
    p.set_defaults(run=run)


def _since(text: str) -> int:
    scale = {"s": 1, "m": 60, "h": 3600}
    try:
        return int(float(text[:-1]) * scale[text[-1]]) if text[-1:] in scale else int(text)
    except (ValueError, KeyError):
        raise CliError(
            f'error: invalid argument "{text}" for "--since" flag: time: invalid duration "{text}"'
        ) from None


def pods_for(s: Session, args: argparse.Namespace) -> list[dict[str, Any]]:
    pods = s.mapper.lookup("pods")
    if args.selector:
        return list(s.rest.get(pods.path(s.namespace), params={"labelSelector": args.selector}).get("items") or [])
    if not args.target:
        raise CliError("error: expected POD, TYPE/NAME, or -l selector")
    kind, sep, name = args.target.partition("/")
    if not sep:
        return [s.get(pods, args.target)]
    res = s.mapper.lookup(kind)
    if res.kind == "Pod":
        return [s.get(pods, name)]
    obj = s.get(res, name)
    selector = (obj.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    text = ",".join(f"{k}={v}" for k, v in labels.items() if isinstance(v, str))
    found = s.rest.get(pods.path(s.namespace), params={"labelSelector": text}).get("items") or []
    if not found:
        raise CliError(f"error: no pods found for {args.target}")
    return [sorted(found, key=lambda p: p["metadata"]["name"])[0]]


def run(args: argparse.Namespace) -> int:
    s = Session(args)
    pods = pods_for(s, args)
    many = len(pods) > 1
    if many and args.follow and len(pods) > args.max_log_requests:
        raise CliError(
            f"error: you are attempting to follow {len(pods)} log streams, but maximum allowed concurrency is "
            f"{args.max_log_requests}, use --max-log-requests to increase the limit"
        )
    for pod in pods:
        names = [c["name"] for c in pod["spec"].get("containers") or []]
        wanted = args.container or args.container_arg
        if args.all_containers:
            containers = names
        elif wanted:
            containers = [wanted]
        elif len(names) == 1 or many:
            containers = names[:1]
        else:
            default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
            containers = [default or names[0]]
            if not default:
                print(f'Defaulted container "{names[0]}" out of: {", ".join(names)}', file=sys.stderr)
        for container in containers:
            stream(s, args, pod, container, prefix=args.prefix or (many and False))
    return 0


def stream(s: Session, args: argparse.Namespace, pod: dict[str, Any], container: str, *, prefix: bool) -> None:
    meta = pod["metadata"]
    params = {
        "container": container,
        "follow": "true" if args.follow else "",
        "previous": "true" if args.previous else "",
        "timestamps": "true" if args.timestamps else "",
        "tailLines": args.tail if args.tail >= 0 else "",
        "sinceSeconds": _since(args.since) if args.since else "",
    }
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/log"
    r = s.rest.request("GET", path, params=params, stream=True, accept="*/*")
    head = f"[pod/{meta['name']}/{container}] ".encode() if prefix else b""
    with r:
        out = sys.stdout.buffer
        if not head:
            for chunk in r.iter_content(chunk_size=None):
                out.write(chunk)
                out.flush()
            return
        for line in r.iter_lines(chunk_size=None):
            out.write(head + line + b"\n")
            out.flush()
