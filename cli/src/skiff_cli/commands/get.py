"""`skiff get`: kubectl's get -- several kinds at once, `all`, `kind/name`, -w, every -o format.

Tables come from the server (`as=Table`, one request per kind); the other formats from the objects
themselves. A name that is not found is reported at the end, in kubectl's words, after everything that
was found has printed, and makes the exit status 1. `-w` prints the list, then one row per change from a
watch that resumes at the list's resourceVersion, in the widths of the first table.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..kube import output
from ..kube.errors import ApiError, CliError
from ..kube.resources import Resource, Selection, is_not_found
from ..kube.rest import TABLE
from ..kube.session import Session, add_all_namespaces


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("get", help="display one or many resources")
    p.add_argument("resources", nargs="*", help="TYPE[,TYPE...] [NAME...] or TYPE/NAME ...")
    output.add_output_flags(p)
    p.add_argument("-l", "--selector", default="", help="label selector, e.g. app=web,tier!=db")
    p.add_argument("--field-selector", default="", help="field selector, e.g. status.phase=Running")
    p.add_argument("-w", "--watch", action="store_true", help="after listing, watch for changes")
    p.add_argument("--watch-only", action="store_true", help="watch for changes without listing first")
    p.add_argument("--output-watch-events", action="store_true", help="print the event type of each change")
    p.add_argument("--ignore-not-found", action="store_true", help="a missing object is not an error")
    p.add_argument("--chunk-size", type=int, default=500, help="list in chunks of this many objects")
    p.add_argument("--raw", default="", help="GET this URI path and print the response as it is")
    add_all_namespaces(p)
    p.set_defaults(run=run, positionals_into="resources")


def run(args: argparse.Namespace) -> int:
    output.check_format(args.output)
    s = Session(args)
    if args.raw:
        sys.stdout.write(s.rest.get(args.raw, raw=True, accept="*/*").text + "\n")
        return 0
    selections = s.select(args.resources)
    if args.watch or args.watch_only:
        return watch(s, args, selections)
    errors: list[str] = []
    if output.is_table(args.output):
        found = print_tables(s, args, selections, errors)
    else:
        found = print_structured(s, args, selections, errors)
    if not found and not errors and not any(sel.names for sel in selections):
        print(output.no_resources(_where(s, selections)), file=sys.stderr)
    for line in errors:
        print(line, file=sys.stderr)
    return 1 if errors else 0


def _where(s: Session, selections: list[Selection]) -> str:
    if s.all_namespaces or not any(sel.resource.namespaced for sel in selections):
        return ""
    return s.namespace


def list_params(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    return {"labelSelector": args.selector, "fieldSelector": args.field_selector, **extra}


def fetch_tables(s: Session, args: argparse.Namespace, sel: Selection, errors: list[str]) -> dict[str, Any] | None:
    """One Table per selection: the list's, or the named objects' rows gathered into one."""
    res = sel.resource
    include = {"includeObject": "Object"} if args.sort_by else {}
    if not sel.names:
        return _list_all(s, res, list_params(args, **include), accept=TABLE)
    table: dict[str, Any] | None = None
    for name in sel.names:
        try:
            one = s.rest.get(res.path(s.ns_for(res) or s.namespace, name), params=include, accept=TABLE)
        except ApiError as err:
            if not (args.ignore_not_found and is_not_found(err)):
                errors.append(err.message)
            continue
        if table is None:
            table = one
        else:
            table["rows"] = table.get("rows", []) + one.get("rows", [])
    return table


def _list_all(s: Session, res: Resource, params: dict[str, Any], *, accept: str = "application/json") -> dict[str, Any]:
    """Follow `continue` tokens so a long list arrives in chunks, as kubectl's --chunk-size."""
    path = res.path(s.ns_for(res))
    first = s.rest.get(path, params={**params, "limit": 500}, accept=accept)
    key = "rows" if first.get("kind") == "Table" else "items"
    while (first.get("metadata") or {}).get("continue"):
        more = s.rest.get(
            path, params={**params, "limit": 500, "continue": first["metadata"]["continue"]}, accept=accept
        )
        first[key] = (first.get(key) or []) + (more.get(key) or [])
        first["metadata"] = more.get("metadata") or {}
    return dict(first)


def print_tables(s: Session, args: argparse.Namespace, selections: list[Selection], errors: list[str]) -> bool:
    with_kind = len(selections) > 1
    blocks = []
    for sel in selections:
        table = fetch_tables(s, args, sel, errors)
        if not table or not table.get("rows"):
            continue
        opts = output.TableOptions.from_args(args, with_namespace=s.all_namespaces, with_kind=with_kind)
        blocks.append(output.layout(output.table_rows(sel.resource, table, opts)))
    if blocks:
        sys.stdout.write("\n".join(blocks))
    return bool(blocks)


def collect(
    s: Session, args: argparse.Namespace, selections: list[Selection], errors: list[str]
) -> list[tuple[Resource, dict[str, Any]]]:
    objects: list[tuple[Resource, dict[str, Any]]] = []
    for sel in selections:
        res = sel.resource
        if not sel.names:
            listed = _list_all(s, res, list_params(args))
            items = listed.get("items") or []
            if getattr(args, "sort_by", ""):
                items = sorted(items, key=lambda o: output.sort_key(o, args.sort_by))
            for item in items:
                item.setdefault("apiVersion", res.group_version)
                item.setdefault("kind", res.kind)
                objects.append((res, item))
            continue
        for name in sel.names:
            try:
                objects.append((res, s.get(res, name, s.ns_for(res) or s.namespace)))
            except ApiError as err:
                if not (args.ignore_not_found and is_not_found(err)):
                    errors.append(err.message)
    return objects


def print_structured(s: Session, args: argparse.Namespace, selections: list[Selection], errors: list[str]) -> bool:
    objects = collect(s, args, selections, errors)
    single = len(selections) == 1 and len(selections[0].names) == 1
    if not objects and (not single or errors):
        if args.output.startswith(("json", "yaml")) and not single and not errors:
            sys.stdout.write(output.structured(args.output, [], single=False))
        return False
    sys.stdout.write(
        output.structured(
            args.output,
            objects,
            single=single,
            template=args.template,
            no_headers=args.no_headers,
            show_managed_fields=args.show_managed_fields,
        )
    )
    return True


def watch(s: Session, args: argparse.Namespace, selections: list[Selection]) -> int:
    if len(selections) != 1:
        raise CliError("error: you may only specify a single resource type")
    sel = selections[0]
    res = sel.resource
    table_mode = output.is_table(args.output)
    params = list_params(args)
    if sel.names:
        if len(sel.names) > 1:
            raise CliError(
                "error: watch is only supported on individual resources and resource collections, "
                f"but {len(sel.names)} resources were found"
            )
        params["fieldSelector"] = f"metadata.name={sel.names[0]}"
    listed = _list_all(s, res, params, accept=TABLE if table_mode else "application/json")
    rv = (listed.get("metadata") or {}).get("resourceVersion", "")
    opts = output.TableOptions.from_args(args, with_namespace=s.all_namespaces)
    widths: list[int] = []
    defs = listed.get("columnDefinitions")
    if not args.watch_only:
        if table_mode:
            rows = output.table_rows(res, listed, opts)
            if len(rows) > 1:
                sys.stdout.write(output.layout(rows, widths))
            else:
                print(output.no_resources(_where(s, [sel])), file=sys.stderr)
        else:
            for item in listed.get("items") or []:
                sys.stdout.write(_one(args, res, item))
        sys.stdout.flush()
    header_done = bool(widths)
    accept = TABLE if table_mode else "application/json"
    for event in s.rest.watch(res.path(s.ns_for(res)), {**params, "resourceVersion": rv}, accept=accept):
        kind, obj = event.get("type"), event.get("object") or {}
        if kind in ("BOOKMARK", "ERROR"):
            if kind == "ERROR":
                raise CliError(f"error: {obj.get('message', 'watch failed')}")
            continue
        if table_mode:
            if obj.get("kind") != "Table":
                continue
            if not obj.get("columnDefinitions"):  # only the first event of a watch carries them
                obj["columnDefinitions"] = defs
            defs = obj["columnDefinitions"]
            rows = output.table_rows(res, obj, opts, header=not header_done)
            if args.output_watch_events:
                rows = [(["EVENT"] if i == 0 and not header_done else [kind]) + r for i, r in enumerate(rows)]
            header_done = True
            sys.stdout.write(output.layout(rows, widths))
        else:
            obj.setdefault("apiVersion", res.group_version)
            obj.setdefault("kind", res.kind)
            sys.stdout.write(_one(args, res, obj))
        sys.stdout.flush()
    return 0


def _one(args: argparse.Namespace, res: Resource, obj: dict[str, Any]) -> str:
    """One watched object in a structured format (-o yaml, json, jsonpath...)."""
    return output.structured(
        args.output, [(res, obj)], single=True, template=args.template, show_managed_fields=args.show_managed_fields
    )
