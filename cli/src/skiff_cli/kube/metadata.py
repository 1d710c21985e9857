"""`label` and `annotate` are one verb on two maps: parse `key=value` and `key-`, refuse to overwrite
without --overwrite (kubectl's message), send a merge patch of just those keys, report in kubectl's
words (`pod/web labeled`, `... not labeled` when nothing changed)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import writes
from .errors import CliError
from .output import name_of
from .session import Session, add_all_namespaces


def add_parser(sub: argparse._SubParsersAction, verb: str, field: str, help: str) -> None:
    p = sub.add_parser(verb, help=help)
    p.add_argument("args", nargs="+", metavar="TYPE NAME KEY=VALUE|KEY-")
    p.add_argument("--overwrite", action="store_true", help="replace values already set")
    p.add_argument("--all", action="store_true", help="every object of the type in the namespace")
    p.add_argument("-l", "--selector", default="")
    p.add_argument("--list", action="store_true", help=f"print the {field}")
    p.add_argument("--resource-version", default="", help="only if the object is still at this version")
    manifest_flags(p)
    writes.add_write_flags(p, manager=f"skiff-{verb}")
    add_all_namespaces(p)
    p.set_defaults(run=lambda args: run(args, verb, field), positionals_into="args")


def manifest_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filename", action="append", default=[])
    p.add_argument("-R", "--recursive", action="store_true")


def split(words: list[str]) -> tuple[list[str], dict[str, str | None]]:
    """Resource words, then `k=v` / `k-` changes (they may be mixed, as kubectl allows)."""
    resources, changes = [], {}
    for w in words:
        if "=" in w:
            key, _, value = w.partition("=")
            changes[key] = value
        elif w.endswith("-"):
            changes[w[:-1]] = None
        else:
            resources.append(w)
    return resources, changes


def run(args: argparse.Namespace, verb: str, field: str) -> int:
    from .targets import objects_of

    resources, changes = split(args.args)
    if not changes and not args.list:
        raise CliError(f"error: at least one {field[:-1]} update is required")
    s = Session(args)
    past = "labeled" if verb == "label" else "annotated"
    for res, obj in objects_of(s, args, resources):
        meta = obj.get("metadata", {})
        current: dict[str, str] = meta.get(field) or {}
        if args.list:
            for k, v in sorted(current.items()):
                print(f"{k}={v}")
            continue
        for key, value in changes.items():
            if value is not None and key in current and current[key] != value and not args.overwrite:
                if verb == "label":
                    raise CliError(f"error: '{key}' already has a value ({current[key]}), and --overwrite is false")
                raise CliError(
                    "error: --overwrite is false but found the following declared annotation(s): "
                    f"'{key}' already has a value ({current[key]})"
                )
        effective = {k: v for k, v in changes.items() if current.get(k) != v or (v is None and k in current)}
        effective = {k: v for k, v in effective.items() if not (v is None and k not in current)}
        if not effective:
            print(f"{name_of(res, obj)} not {past}")
            continue
        patch: dict[str, Any] = {"metadata": {field: effective}}
        if args.resource_version:
            patch["metadata"]["resourceVersion"] = args.resource_version
        result = obj
        if not writes.client_dry_run(args):
            result = s.rest.request(
                "PATCH",
                res.path(meta.get("namespace", ""), meta.get("name", "")),
                body=patch,
                params=writes.params(args),
                content_type="application/merge-patch+json",
            )
        writes.report(args, res, result, past)
    sys.stdout.flush()
    return 0
