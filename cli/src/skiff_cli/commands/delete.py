"""`skiff delete`: by name, `kind/name`, label selector, `--all`, or the objects of manifests.

As kubectl: `--cascade=background|foreground|orphan` becomes the propagation policy, `--grace-period`
and `--now` shorten a pod's grace, `--force` (with --grace-period=0) removes at once without waiting for
the kubelet, and by default the command waits until each object is really gone (`--wait`), polling
until its UID is gone, so that when it returns a pod's processes have stopped.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..kube import manifests, writes
from ..kube.errors import ApiError, CliError
from ..kube.resources import Resource, is_not_found
from ..kube.session import Session, add_all_namespaces


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("delete", help="delete objects by name, selector, or from files")
    p.add_argument("resources", nargs="*", help="TYPE[,TYPE...] [NAME...] or TYPE/NAME ...")
    manifests.add_file_flags(p, what="to delete")
    p.add_argument("-l", "--selector", default="", help="delete the objects with these labels")
    p.add_argument("--field-selector", default="")
    p.add_argument("--all", action="store_true", help="delete every object of the types in the namespace")
    p.add_argument("--grace-period", type=int, default=-1, help="seconds to let pods stop (-1: the object's own)")
    p.add_argument("--now", action="store_true", help="same as --grace-period=1")
    p.add_argument("--force", action="store_true", help="remove at once, without the kubelet's confirmation")
    p.add_argument("--cascade", default="background", choices=["background", "foreground", "orphan", "true", "false"])
    p.add_argument("--wait", default="true", nargs="?", const="true", choices=["true", "false"])
    p.add_argument("--timeout", default="0", help="how long to wait (0: a week, as kubectl)")
    p.add_argument("--ignore-not-found", action="store_true")
    p.add_argument("--dry-run", nargs="?", const="client", default="none", choices=["none", "client", "server"])
    p.add_argument("-o", "--output", default="", choices=["", "name"])
    add_all_namespaces(p)
    p.set_defaults(run=run, positionals_into="resources")


def targets(s: Session, args: argparse.Namespace) -> list[tuple[Resource, dict[str, Any]]]:
    """(resource, a stub or listed object) of everything to delete."""
    if args.filename:
        found = []
        for _, obj in manifests.load(args.filename, args.recursive):
            res = s.mapper.for_object(obj)
            writes.place(s, res, obj)
            found.append((res, obj))
        return found
    if not args.resources:
        raise CliError(
            "error: resource(s) were provided, but no name was specified"
            if args.all
            else "error: you must provide one or more resources by argument or filename.\nExample resource "
            "specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n"
            "   '<resource>'"
        )
    found = []
    for sel in s.select(args.resources):
        res = sel.resource
        if sel.names:
            if args.all or args.selector:
                raise CliError("error: name cannot be provided when a selector is specified")
            found += [(res, {"metadata": {"name": n, "namespace": s.ns_for(res) or s.namespace}}) for n in sel.names]
            continue
        if not (args.all or args.selector or args.field_selector):
            raise CliError("error: resource(s) were provided, but no name was specified")
        listed = s.rest.get(
            res.path(s.ns_for(res)), params={"labelSelector": args.selector, "fieldSelector": args.field_selector}
        )
        found += [(res, item) for item in listed.get("items") or []]
    return found


def run(args: argparse.Namespace) -> int:
    s = Session(args)
    grace = 1 if args.now else args.grace_period
    if grace == 0 and not args.force:
        grace = 1  # kubectl: --grace-period=0 means "as fast as the kubelet can" unless --force
    if args.force:
        print(
            "Warning: Immediate deletion does not wait for confirmation that the running resource has been "
            "terminated. The resource may continue to run on the cluster indefinitely.",
            file=sys.stderr,
        )
        grace = 0 if grace < 0 else grace
    cascade = {"true": "background", "false": "orphan"}.get(args.cascade, args.cascade)
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": cascade.capitalize()}
    if grace >= 0:
        body["gracePeriodSeconds"] = grace
    if args.dry_run == "server":
        body["dryRun"] = ["All"]
    found = targets(s, args)
    if not found and not args.filename:
        print("No resources found" + (f" in {s.namespace} namespace." if not s.all_namespaces else ""), file=sys.stderr)
    gone: list[tuple[Resource, str, str, str]] = []
    errors = []
    for res, obj in found:
        meta = obj.get("metadata", {})
        name, ns = meta.get("name", ""), meta.get("namespace", "") if res.namespaced else ""
        label = f'{res.kind_group} "{name}"'
        if args.dry_run != "client":
            try:
                deleted = s.rest.request("DELETE", res.path(ns, name), body=body)
            except ApiError as err:
                if is_not_found(err) and args.ignore_not_found:
                    continue
                errors.append(err.message)
                continue
            uid = (deleted.get("metadata") or {}).get("uid") or (deleted.get("details") or {}).get("uid", "")
            gone.append((res, ns, name, uid))
        print(f"{res.kind_group}/{name}" if args.output == "name" else f"{label} deleted{writes.suffix(args)}")
        sys.stdout.flush()
    if args.wait == "true" and args.dry_run == "none" and not args.force:
        wait_gone(s, gone, _seconds(args.timeout) or 7 * 24 * 3600)
    if errors:
        raise CliError("\n".join(errors))
    return 0


def _seconds(text: str) -> float:
    scale = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * scale[text[-1]] if text and text[-1] in scale else float(text or 0)


def wait_gone(s: Session, gone: list[tuple[Resource, str, str, str]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for res, ns, name, uid in gone:
        while True:
            try:
                current = s.get(res, name, ns)
            except ApiError as err:
                if is_not_found(err):
                    break
                raise
            if uid and current.get("metadata", {}).get("uid") != uid:
                break  # a new object of the same name: ours is gone
            if time.monotonic() > deadline:
                raise CliError(f"error: timed out waiting for the condition on {res.resource}/{name}")
            time.sleep(0.2)
