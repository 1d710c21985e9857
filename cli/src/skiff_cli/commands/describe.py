"""`skiff describe TYPE [NAME]`: every field of the objects, and the Events that name them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..kube.describe import describe
from ..kube.errors import ApiError, CliError
from ..kube.session import Session, add_all_namespaces


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="show details of objects, with their events")
    p.add_argument("resources", nargs="+", help="TYPE [NAME_PREFIX...] or TYPE/NAME")
    p.add_argument("-l", "--selector", default="")
    p.add_argument("--show-events", default="true", choices=["true", "false"])
    add_all_namespaces(p)
    p.set_defaults(run=run, positionals_into="resources")


def events_for(s: Session, obj: dict[str, Any]) -> list[dict[str, Any]]:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace", "")
    fields = (
        f"involvedObject.name={meta.get('name')},involvedObject.namespace={ns},involvedObject.uid={meta.get('uid')}"
    )
    path = f"/api/v1/namespaces/{ns}/events" if ns else "/api/v1/events"
    try:
        items = s.rest.get(path, params={"fieldSelector": fields}).get("items") or []
    except ApiError:  # a server that cannot select on these fields: filter here
        items = s.rest.get(path).get("items") or []
    return [e for e in items if (e.get("involvedObject") or {}).get("uid") == meta.get("uid")]


def run(args: argparse.Namespace) -> int:
    s = Session(args)
    blocks = []
    errors = []
    for sel in s.select(args.resources):
        res = sel.resource
        if sel.names:
            objects = []
            listed: list[dict[str, Any]] | None = None
            for name in sel.names:
                try:
                    objects.append(s.get(res, name, s.ns_for(res) or s.namespace))
                except ApiError as err:
                    if err.http_code != 404:
                        raise
                    # kubectl falls back to objects whose name starts with the argument
                    if listed is None:
                        listed = s.rest.get(res.path(s.ns_for(res))).get("items") or []
                    found = [o for o in listed if o.get("metadata", {}).get("name", "").startswith(name)]
                    if not found:
                        errors.append(err.message)
                    objects += found
        else:
            objects = s.rest.get(res.path(s.ns_for(res)), params={"labelSelector": args.selector}).get("items") or []
        for obj in objects:
            obj.setdefault("apiVersion", res.group_version)
            obj.setdefault("kind", res.kind)
            events = events_for(s, obj) if args.show_events == "true" else None
            blocks.append(describe(obj, events))
    if blocks:
        sys.stdout.write("\n\n".join(b.rstrip("\n") + "\n" for b in blocks).replace("\n\n\n", "\n\n"))
    elif not errors:
        print(f"No resources found in {s.namespace} namespace.", file=sys.stderr)
    if errors:
        raise CliError("\n".join(errors))
    return 0
