"""`skiff get RESOURCE [NAME]`: tables like kubectl's, or the objects as YAML, JSON or names."""

from __future__ import annotations

import argparse
import re

from skiff_common.apimachinery.convert import dump_json, dump_yaml

from ..printers import table
from ._context import add_namespace_flags, api_client, namespace_of, resolve_resource


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("get", help="list objects, or show one")
    p.add_argument("resource", help="a resource type: pods, po, nodes, deployments, ...")
    p.add_argument("name", nargs="?", help="one object's name")
    p.add_argument("-o", "--output", choices=["wide", "yaml", "json", "name"], help="output format")
    p.add_argument("-l", "--selector", default="", help="label selector, e.g. app=web,tier!=db")
    p.add_argument("--field-selector", default="", help="field selector, e.g. status.phase=Running")
    add_namespace_flags(p, all_namespaces=True)
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    kinds = [k for k in args.resource.split(",") if k]
    if len(kinds) > 1 and not args.name and args.output in (None, "wide"):
        return await run_many(args, kinds)
    info = resolve_resource(args.resource)
    all_namespaces = info.namespaced and args.all_namespaces
    namespace = "" if all_namespaces or not info.namespaced else namespace_of(args)
    async with api_client() as client:
        if args.name:
            objects = [await client.get(info.message, args.name, namespace)]
        else:
            listed = await client.list_all(
                info.message, namespace, label_selector=args.selector, field_selector=args.field_selector
            )
            objects = list(listed.items)
    single = bool(args.name)
    if args.output == "yaml":
        print(dump_yaml(objects[0] if single else objects), end="")
    elif args.output == "json":
        print(dump_json(objects[0] if single else objects))
    elif args.output == "name":
        for obj in objects:
            print(f"{info.singular}/{obj.metadata.name}")  # type: ignore[attr-defined]
    elif not objects:
        where = "" if all_namespaces or not info.namespaced else f" in {namespace} namespace"
        print(f"No resources found{where}.")
    else:
        print(table(info.kind, objects, wide=args.output == "wide", with_namespace=all_namespaces))
    return 0


async def run_many(args: argparse.Namespace, resources: list[str]) -> int:
    """`skiff get deployments,replicasets`: one table per kind, names prefixed with the kind (kubectl's
    way), a blank line between tables."""
    infos = [resolve_resource(r) for r in resources]
    blocks = []
    async with api_client() as client:
        for info in infos:
            all_namespaces = info.namespaced and args.all_namespaces
            namespace = "" if all_namespaces or not info.namespaced else namespace_of(args)
            listed = await client.list_all(
                info.message, namespace, label_selector=args.selector, field_selector=args.field_selector
            )
            if not listed.items:
                continue
            text = table(info.kind, listed.items, wide=args.output == "wide", with_namespace=all_namespaces)
            blocks.append(_prefix_names(text, info.singular))
    print("\n\n".join(blocks) if blocks else "No resources found.")
    return 0


def _prefix_names(text: str, singular: str) -> str:
    """Prefix the NAME column with "<kind>/" and re-align (events have no NAME column: left as is)."""
    lines = text.splitlines()
    header = lines[0]
    found = re.search(r"(?<!\S)NAME(?!\S)", header)
    if found is None:
        return text
    col = found.start()
    out = [header]
    for line in lines[1:]:
        out.append(line[:col] + f"{singular}/" + line[col:])
    pad = len(singular) + 1
    out[0] = header[: col + 4] + " " * pad + header[col + 4 :]
    return "\n".join(out)
