"""`skiff exec [-i] [-t] POD|TYPE/NAME [-c C] -- COMMAND...`: run a command in a container, through the
apiserver's `pods/exec` (kube/streams.py), as kubectl. `-t` puts our terminal in raw mode and follows
its size; without a terminal on stdin it is dropped with kubectl's warning. A non-zero exit becomes ours."""

from __future__ import annotations

import argparse
import sys

from ..kube import streams
from ..kube.errors import CliError
from ..kube.session import Session
from .attach import pod_and_container


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exec", help="run a command in a container")
    p.add_argument("pod", help="POD or TYPE/NAME")
    p.add_argument("-c", "--container", default="")
    p.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the command")
    p.add_argument("-t", "--tty", action="store_true", help="run the command on a terminal")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.after_dash:
        raise CliError("error: you must specify at least one command for the container")
    tty_mode = args.tty
    if tty_mode and not (args.stdin and sys.stdin.isatty()):
        if not args.quiet:
            print("Unable to use a TTY - input is not a terminal or the right kind of file", file=sys.stderr)
        tty_mode = False
    s = Session(args)
    pod, container = pod_and_container(s, args.pod, args.container, quiet=args.quiet)
    params = [("container", container), ("stdout", "true"), ("stderr", "false" if tty_mode else "true")]
    params += [("stdin", "true")] if args.stdin else []
    params += [("tty", "true")] if tty_mode else []
    params += [("command", c) for c in args.after_dash]
    meta = pod["metadata"]
    ws = streams.connect(s.rest, f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/exec", params,
                         streams.CHANNEL_PROTOCOLS)  # fmt: skip
    return streams.session(ws, stdin=args.stdin, tty_mode=tty_mode)
