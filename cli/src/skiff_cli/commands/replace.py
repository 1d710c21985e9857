"""`skiff replace -f FILE`: PUT each object whole; `--force` deletes and re-creates it."""

from __future__ import annotations

import argparse

from ..kube import manifests, writes
from ..kube.errors import ApiError, CliError, with_source
from ..kube.session import Session


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replace", help="replace objects with the ones in files")
    manifests.add_file_flags(p, required=True, what="to replace")
    p.add_argument("--force", action="store_true", help="delete, then create")
    writes.add_write_flags(p, manager="skiff-replace")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    s = Session(args)
    failed = []
    for source, obj in manifests.load(args.filename, args.recursive):
        res = s.mapper.for_object(obj)
        ns = writes.place(s, res, obj)
        name = obj["metadata"].get("name", "")
        try:
            if args.force:
                s.rest.request("DELETE", res.path(ns, name))
                print(f'{res.kind_group} "{name}" deleted')
                obj["metadata"].pop("resourceVersion", None)
                writes.report(args, res, writes.create(s, args, res, obj), "replaced")
                continue
            if not obj["metadata"].get("resourceVersion"):  # an unconditional update, as kubectl allows
                obj["metadata"]["resourceVersion"] = s.get(res, name, ns)["metadata"].get("resourceVersion", "")
            result = obj
            if not writes.client_dry_run(args):
                result = s.rest.request(
                    "PUT", res.path(ns, name), body=obj, params=writes.params(args, fieldValidation="Strict")
                )
            writes.report(args, res, result, "replaced")
        except ApiError as err:
            failed.append(with_source(err, "replacing", source).message)
    if failed:
        raise CliError("\n".join(failed))
    return 0
