"""`skiff scale --replicas=N TYPE NAME`: through the scale subresource, as kubectl does, with
`--current-replicas` as a precondition."""

from __future__ import annotations

import argparse

from ..kube import writes
from ..kube.errors import CliError
from ..kube.session import Session
from ..kube.targets import objects_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scale", help="set the number of replicas")
    p.add_argument("resources", nargs="*")
    p.add_argument("--replicas", type=int, required=True)
    p.add_argument("--current-replicas", type=int, default=-1, help="only if the count is this now")
    p.add_argument("-l", "--selector", default="")
    p.add_argument("--all", action="store_true")
    p.add_argument("-f", "--filename", action="append", default=[])
    writes.add_write_flags(p, manager="skiff-scale")
    p.set_defaults(run=run, positionals_into="resources")


def run(args: argparse.Namespace) -> int:
    s = Session(args)
    for res, obj in objects_of(s, args, args.resources):
        if "scale" not in res.subresources:
            raise CliError(f'error: no objects passed to scale {res.kind_group} "{obj["metadata"]["name"]}"')
        meta = obj["metadata"]
        path = res.path(meta.get("namespace", ""), meta["name"], "scale")
        if args.current_replicas >= 0:
            current = s.rest.get(path).get("spec", {}).get("replicas", 0)
            if current != args.current_replicas:
                raise CliError(f"error: Expected replicas to be {args.current_replicas}, was {current}")
        if not writes.client_dry_run(args):
            s.rest.request(
                "PATCH",
                path,
                body={"spec": {"replicas": args.replicas}},
                params=writes.params(args),
                content_type="application/merge-patch+json",
            )
        writes.report(args, res, obj, "scaled")
    return 0
