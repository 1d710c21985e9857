"""`skiff api-resources` and `skiff api-versions`: what the server's discovery says it serves."""

from __future__ import annotations

import argparse
import sys

from ..kube.output import layout
from ..kube.session import Session


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api-resources", help="list the resource types the server serves")
    p.add_argument("-o", "--output", default="", choices=["", "wide", "name"])
    p.add_argument("--namespaced", default=None, choices=["true", "false"])
    p.add_argument("--api-group", default=None)
    p.add_argument("--verbs", action="append", default=[])
    p.add_argument("--no-headers", action="store_true")
    p.add_argument("--sort-by", default="", choices=["", "name", "kind"])
    p.set_defaults(run=run_resources)
    v = sub.add_parser("api-versions", help="list the group/versions the server serves")
    v.set_defaults(run=run_versions)


def run_resources(args: argparse.Namespace) -> int:
    s = Session(args)
    found = []
    seen = set()
    for r in s.mapper.all():
        if (r.group, r.resource) in seen:  # the preferred version only, as kubectl lists them
            continue
        seen.add((r.group, r.resource))
        if args.namespaced is not None and r.namespaced != (args.namespaced == "true"):
            continue
        if args.api_group is not None and r.group != args.api_group:
            continue
        if args.verbs and not all(v in r.verbs for v in args.verbs):
            continue
        found.append(r)
    if args.sort_by == "name":
        found.sort(key=lambda r: r.resource)
    elif args.sort_by == "kind":
        found.sort(key=lambda r: r.kind)
    if args.output == "name":
        sys.stdout.write("".join(r.qualified + "\n" for r in found))
        return 0
    rows = [] if args.no_headers else [["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]]
    if args.output == "wide" and rows:
        rows[0] += ["VERBS", "CATEGORIES"]
    for r in found:
        row = [r.resource, ",".join(r.short_names), r.group_version, str(r.namespaced).lower(), r.kind]
        if args.output == "wide":
            row += ["[" + " ".join(sorted(r.verbs)) + "]", ",".join(r.categories)]
        rows.append(row)
    sys.stdout.write(layout(rows))
    return 0


def run_versions(args: argparse.Namespace) -> int:
    s = Session(args)
    versions = sorted({r.group_version for r in s.mapper.all()})
    sys.stdout.write("".join(v + "\n" for v in versions))
    return 0
