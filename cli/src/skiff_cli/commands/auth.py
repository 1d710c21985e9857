"""`skiff auth can-i VERB RESOURCE [NAME]`: ask the server (a SelfSubjectAccessReview); `yes` exits 0,
`no` exits 1, as kubectl."""

from __future__ import annotations

import argparse
from typing import Any

from ..kube.session import Session, add_all_namespaces


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("auth", help="inspect authorization")
    verbs = p.add_subparsers(dest="what", required=True)
    c = verbs.add_parser("can-i", help="check whether an action is allowed")
    c.add_argument("verb")
    c.add_argument("resource")
    c.add_argument("name", nargs="?", default="")
    c.add_argument("-q", "--quiet", action="store_true")
    c.add_argument("--subresource", default="")
    add_all_namespaces(c)
    c.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    s = Session(args)
    attrs: dict[str, Any]
    if args.resource.startswith("/"):
        attrs = {"nonResourceAttributes": {"verb": args.verb, "path": args.resource}}
    else:
        kind, _, name = args.resource.partition("/")
        res = s.mapper.lookup(kind)
        attrs = {
            "resourceAttributes": {
                "verb": args.verb,
                "group": res.group,
                "resource": res.resource,
                "subresource": args.subresource,
                "name": name or args.name,
                "namespace": "" if s.all_namespaces or not res.namespaced else s.namespace,
            }
        }
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": attrs}
    result = s.rest.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
    allowed = bool((result.get("status") or {}).get("allowed"))
    if not args.quiet:
        print("yes" if allowed else "no")
    return 0 if allowed else 1
