"""`skiff taint nodes NAME key=value:Effect key:Effect- key-`: add or remove taints (kubectl's rules:
a taint with the key and effect of an existing one needs --overwrite; `key-` removes every effect)."""

from __future__ import annotations

import argparse
from typing import Any

from ..kube import writes
from ..kube.errors import CliError
from ..kube.session import Session
from ..kube.targets import objects_of

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("taint", help="update the taints of nodes")
    p.add_argument("args", nargs="+", metavar="node NAME KEY[=VALUE]:EFFECT[-]")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--all", action="store_true")
    p.add_argument("-l", "--selector", default="")
    writes.add_write_flags(p, manager="skiff-taint")
    p.set_defaults(run=run, positionals_into="args")


def parse(spec: str) -> tuple[dict[str, str], bool]:
    remove = spec.endswith("-")
    spec = spec.rstrip("-")
    key_value, _, effect = spec.partition(":")
    key, _, value = key_value.partition("=")
    if not key or (not remove and effect not in EFFECTS) or (effect and effect not in EFFECTS):
        raise CliError(
            f'error: invalid taint spec: {spec}, unknown taint effect: "{effect}"'
            if effect
            else f"error: invalid taint spec: {spec}"
        )
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint, remove


def run(args: argparse.Namespace) -> int:
    words = [w for w in args.args if ":" not in w and not w.endswith("-") and "=" not in w]
    specs = [parse(w) for w in args.args if w not in words]
    if not specs:
        raise CliError("error: at least one taint update is required")
    s = Session(args)
    for res, node in objects_of(s, args, words):
        taints: list[dict[str, Any]] = list(node.get("spec", {}).get("taints") or [])
        removed = added = False
        for taint, remove in specs:
            if remove:
                keep = [
                    t
                    for t in taints
                    if not (t["key"] == taint["key"] and (not taint["effect"] or t.get("effect") == taint["effect"]))
                ]
                if len(keep) == len(taints):
                    raise CliError(
                        f'error: taint "{taint["key"]}{":" + taint["effect"] if taint["effect"] else ""}" not found'
                    )
                taints, removed = keep, True
                continue
            same = [t for t in taints if t["key"] == taint["key"] and t.get("effect") == taint["effect"]]
            if same and not args.overwrite:
                raise CliError(
                    f"error: node {node['metadata']['name']} already has {taint['key']} taint(s) with same effect(s) and --overwrite is false"  # noqa: E501
                )
            taints = [t for t in taints if t not in same] + [taint]
            added = True
        if not writes.client_dry_run(args):
            s.rest.request(
                "PATCH",
                res.path("", node["metadata"]["name"]),
                body={"spec": {"taints": taints or None}},
                params=writes.params(args),
                content_type="application/merge-patch+json",
            )
        writes.report(args, res, node, "modified" if added and removed else "untainted" if removed else "tainted")
    return 0
