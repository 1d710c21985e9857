"""`skiff attach POD [-c C] [-i] [-t]`: join a running container's stdio through `pods/attach`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..kube import streams
from ..kube.errors import CliError
from ..kube.session import Session


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attach", help="attach to a running container")
    p.add_argument("pod", help="POD or TYPE/NAME")
    p.add_argument("-c", "--container", default="")
    p.add_argument("-i", "--stdin", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(run=run)


def pod_and_container(s: Session, word: str, container: str, *, quiet: bool = False) -> tuple[dict[str, Any], str]:
    """The pod named (or the first pod of a workload, as kubectl picks it) and the container to use."""
    pods = s.mapper.lookup("pods")
    kind, sep, name = word.partition("/")
    if not sep:
        pod = s.get(pods, word)
    else:
        res = s.mapper.lookup(kind)
        if res.kind == "Pod":
            pod = s.get(pods, name)
        else:
            obj = s.get(res, name)
            labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            found = (
                s.rest.get(
                    pods.path(s.namespace), params={"labelSelector": ",".join(f"{k}={v}" for k, v in labels.items())}
                ).get("items")
                or []
            )
            if not found:
                raise CliError(f"error: no pods found for {word}")
            pod = sorted(found, key=lambda p: p["metadata"]["name"])[0]
    names = [c["name"] for c in pod["spec"].get("containers") or []]
    if container:
        if container not in names:
            raise CliError(f"error: container {container} not found in pod {pod['metadata']['name']}")
        return pod, container
    default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    chosen = default or names[0]
    if len(names) > 1 and not default and not quiet:
        print(f'Defaulted container "{chosen}" out of: {", ".join(names)}', file=sys.stderr)
    return pod, chosen


def run(args: argparse.Namespace) -> int:
    s = Session(args)
    pod, container = pod_and_container(s, args.pod, args.container, quiet=args.quiet)
    tty_mode = args.tty and args.stdin and sys.stdin.isatty()
    params = [("container", container), ("stdout", "true"), ("stderr", "false" if tty_mode else "true")]
    params += [("stdin", "true")] if args.stdin else []
    params += [("tty", "true")] if tty_mode else []
    meta = pod["metadata"]
    if not args.quiet and args.stdin:
        print("If you don't see a command prompt, try pressing enter.", file=sys.stderr)
    ws = streams.connect(s.rest, f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/attach", params,
                         streams.CHANNEL_PROTOCOLS)  # fmt: skip
    return streams.session(ws, stdin=args.stdin, tty_mode=tty_mode)
