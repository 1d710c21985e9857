"""`skiff patch TYPE NAME -p PATCH --type strategic|merge|json`: the server applies the patch (all
three types are the server's, as in Kubernetes); `--subresource status|scale` patches those."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from ..kube import writes
from ..kube.errors import CliError
from ..kube.rest import PATCH_TYPES
from ..kube.session import Session
from ..kube.targets import objects_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("patch", help="update fields of an object with a patch")
    p.add_argument("resources", nargs="*")
    p.add_argument("-p", "--patch", default="", help="the patch, JSON or YAML")
    p.add_argument("--patch-file", default="")
    p.add_argument("--type", default="strategic", choices=["strategic", "merge", "json"])
    p.add_argument("--subresource", default="", choices=["", "status", "scale"])
    p.add_argument("-f", "--filename", action="append", default=[])
    writes.add_write_flags(p, manager="skiff-patch")
    p.set_defaults(run=run, positionals_into="resources")


def run(args: argparse.Namespace) -> int:
    text = Path(args.patch_file).read_text() if args.patch_file else args.patch
    if not text:
        raise CliError("error: must specify --patch or --patch-file containing the contents of the patch")
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise CliError(f'error: unable to parse "{text}": {str(err).splitlines()[0]}') from None
    s = Session(args)
    for res, obj in objects_of(s, args, args.resources):
        meta = obj["metadata"]
        if writes.client_dry_run(args):
            writes.report(args, res, obj, "patched")
            continue
        result = s.rest.request(
            "PATCH",
            res.path(meta.get("namespace", ""), meta["name"], args.subresource),
            body=json.dumps(body),
            params=writes.params(args),
            content_type=PATCH_TYPES[args.type],
        )
        same = result.get("metadata", {}).get("resourceVersion") == meta.get("resourceVersion")
        writes.report(args, res, result, "patched (no change)" if same else "patched")
    return 0
