"""`skiff apply -f FILE`: create each object of a manifest, or bring an existing one in line with it.

This is kubectl's client-side apply. Each object carries the manifest it was last applied from in the
`kubectl.kubernetes.io/last-applied-configuration` annotation. An existing object receives a JSON merge
patch (RFC 7386): every field the manifest states wins, maps merge, lists are replaced, fields that were
in the last applied manifest and are gone from this one are deleted, and what no manifest ever stated
stays as stored (a pod's spec.nodeName, defaults, the status). See lastapplied.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from skiff_common.apimachinery.convert import load_manifests, to_dict
from skiff_common.apimachinery.kinds import kind_of
from skiff_common.errors import Invalid, NotFound

from ..lastapplied import LAST_APPLIED, applied_form, apply_patch, last_applied
from ._context import add_namespace_flags, api_client, namespace_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("apply", help="create or update objects from a manifest file")
    p.add_argument("-f", "--filename", required=True, help="a YAML or JSON manifest, or - for standard input")
    add_namespace_flags(p)
    p.set_defaults(run=run)


def read_manifest(filename: str) -> str:
    if filename == "-":
        return sys.stdin.read()
    path = Path(filename)
    if not path.exists():
        raise SystemExit(f'error: the path "{filename}" does not exist')
    return path.read_text()


async def run(args: argparse.Namespace) -> int:
    try:
        objects = load_manifests(read_manifest(args.filename))
    except Invalid as err:
        details = "".join(f"\n* {field_error}" for field_error in err.errors)
        raise SystemExit(f'error: error validating "{args.filename}": {err.summary}:{details}') from None
    namespace = namespace_of(args)
    async with api_client() as client:
        for obj in objects:
            info = kind_of(obj)
            meta = obj.metadata  # type: ignore[attr-defined]
            if info.namespaced and not meta.namespace:
                meta.namespace = namespace
            label = f"{info.singular}/{meta.name or meta.generate_name}"
            meta.annotations[LAST_APPLIED] = applied_form(to_dict(obj))
            if not meta.name:
                created = await client.create(obj)
                print(f"{info.singular}/{created.metadata.name} created")  # type: ignore[attr-defined]
                continue
            try:
                stored = await client.get(type(obj), meta.name, meta.namespace)
            except NotFound:
                await client.create(obj)
                print(f"{label} created")
                continue
            manifest = to_dict(obj)
            manifest.pop("status", None)
            patch = apply_patch(last_applied(stored.metadata.annotations), manifest)  # type: ignore[attr-defined]
            patched = await client.patch(type(obj), meta.name, meta.namespace, patch, patch_type="merge")
            same = patched.metadata.resource_version == stored.metadata.resource_version  # type: ignore[attr-defined]
            print(f"{label} {'unchanged' if same else 'configured'}")
    return 0
