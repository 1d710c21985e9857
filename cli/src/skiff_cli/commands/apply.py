"""`skiff apply -f FILE|DIR|-`: create each object of the manifests, or bring an existing one in line.

Client-side apply (the default) is kubectl's: each object carries the manifest it was last applied from
in the `kubectl.kubernetes.io/last-applied-configuration` annotation, and an existing object receives
the patch computed from that and the new manifest (lastapplied.py) -- fields the manifest states win,
fields it dropped are deleted, what no manifest stated stays. `--server-side` sends the manifest as an
apply patch and lets the server's field managers decide (`--force-conflicts` takes fields over).
`--prune -l SELECTOR` then deletes the objects that match the selector, were applied before (they carry
the annotation) and are in none of the manifests, as kubectl's prune does.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..kube import manifests, writes
from ..kube.errors import ApiError, CliError, with_source
from ..kube.output import name_of
from ..kube.resources import Resource, is_not_found
from ..kube.session import Session
from ..lastapplied import LAST_APPLIED, applied_form, apply_patch, last_applied


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("apply", help="create or update objects from files, folders or stdin")
    manifests.add_file_flags(p, what="to apply")
    writes.add_write_flags(p, manager="skiff-client-side-apply")
    p.add_argument("--server-side", action="store_true", help="let the server merge (server-side apply)")
    p.add_argument("--force-conflicts", action="store_true", help="with --server-side: take over conflicting fields")
    p.add_argument("--prune", action="store_true", help="delete applied objects that are no longer in the files")
    p.add_argument("-l", "--selector", default="", help="with --prune: only objects with these labels")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.filename:
        raise CliError("error: must specify one of -f and -k")
    if args.prune and not args.selector:
        raise CliError(
            "error: all resources selected for prune without explicitly passing --all. To prune all "
            "resources, pass the --all flag. If you did not mean to prune all resources, specify a "
            "label selector"
        )
    if args.server_side and args.field_manager == "skiff-client-side-apply":
        args.field_manager = "skiff"
    s = Session(args)
    applied: set[tuple[str, str, str]] = set()
    failed: list[str] = []
    for source, obj in manifests.load(args.filename, args.recursive):
        res = s.mapper.for_object(obj)
        try:
            result, verb = apply_one(s, args, res, obj)
        except ApiError as err:
            failed.append(with_source(err, "patching" if err.http_code != 409 else "applying", source).message)
            continue
        meta = result.get("metadata", {})
        applied.add((res.qualified, meta.get("namespace", ""), meta.get("name", "")))
        writes.report(args, res, result, verb)
    if args.prune:
        prune(s, args, applied)
    if failed:
        raise CliError("\n".join(failed))
    return 0


def apply_one(s: Session, args: argparse.Namespace, res: Resource, obj: dict[str, Any]) -> tuple[dict[str, Any], str]:
    ns = writes.place(s, res, obj)
    name = obj.get("metadata", {}).get("name", "")
    if not name:
        raise CliError(
            f"error: error when retrieving current configuration of {res.kind}: resource name may not be empty"
        )
    if args.server_side:
        params = writes.params(args, force=args.force_conflicts and "true", fieldValidation="Strict")
        if writes.client_dry_run(args):
            return obj, "serverside-applied"
        body = json.dumps(obj)
        result = s.rest.request(
            "PATCH", res.path(ns, name), body=body, params=params, content_type="application/apply-patch+yaml"
        )
        return dict(result), "serverside-applied"
    obj.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = applied_form(obj)
    try:
        current = s.get(res, name, ns)
    except ApiError as err:
        if not is_not_found(err):
            raise
        return writes.create(s, args, res, obj), "created"
    manifest = {k: v for k, v in obj.items() if k != "status"}
    patch = apply_patch(last_applied(current.get("metadata", {}).get("annotations") or {}), manifest, current)
    if not patch:  # as kubectl: an empty patch is not sent
        return current, "unchanged"
    if writes.client_dry_run(args):
        return current, "configured"
    params = writes.params(args, fieldValidation="Strict")
    result = dict(
        s.rest.request(
            "PATCH", res.path(ns, name), body=patch, params=params, content_type="application/merge-patch+json"
        )
    )
    same = result.get("metadata", {}).get("resourceVersion") == current.get("metadata", {}).get("resourceVersion")
    return result, "unchanged" if same else "configured"


def prune(s: Session, args: argparse.Namespace, applied: set[tuple[str, str, str]]) -> None:
    namespaces = {ns for _, ns, _ in applied}
    qualified = {q for q, _, _ in applied}
    for res in s.mapper.all():
        if res.qualified not in qualified or "delete" not in res.verbs:
            continue
        for ns in namespaces if res.namespaced else {""}:
            listed = s.rest.get(res.path(ns), params={"labelSelector": args.selector})
            for item in listed.get("items") or []:
                meta = item.get("metadata", {})
                key = (res.qualified, meta.get("namespace", ""), meta.get("name", ""))
                if key in applied or LAST_APPLIED not in (meta.get("annotations") or {}):
                    continue
                if not writes.client_dry_run(args):
                    s.rest.request("DELETE", res.path(key[1], key[2]), params=writes.delete_params(args))
                print(f"{name_of(res, item)} pruned{writes.suffix(args)}")
