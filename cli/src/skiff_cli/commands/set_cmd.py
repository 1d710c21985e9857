"""`skiff set image|env|resources`: change a workload's pod template (or a pod) and update it whole."""

from __future__ import annotations

import argparse
from typing import Any

from ..kube import writes
from ..kube.errors import ApiError, CliError
from ..kube.podspec import containers
from ..kube.session import Session, add_all_namespaces
from ..kube.targets import objects_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("set", help="set image, env or resources of workloads")
    verbs = p.add_subparsers(dest="what", required=True)
    i = verbs.add_parser("image", help="update container images")
    i.add_argument("args", nargs="+", metavar="TYPE NAME CONTAINER=IMAGE")
    e = verbs.add_parser("env", help="update environment variables")
    e.add_argument("args", nargs="+", metavar="TYPE NAME KEY=VALUE|KEY-")
    e.add_argument("-c", "--containers", default="*")
    e.add_argument("--list", action="store_true")
    r = verbs.add_parser("resources", help="update resource requests and limits")
    r.add_argument("args", nargs="+", metavar="TYPE NAME")
    r.add_argument("-c", "--containers", default="*")
    r.add_argument("--limits", default="")
    r.add_argument("--requests", default="")
    for q, run in ((i, run_image), (e, run_env), (r, run_resources)):
        q.add_argument("-l", "--selector", default="")
        q.add_argument("--all", action="store_true")
        q.add_argument("-f", "--filename", action="append", default=[])
        writes.add_write_flags(q, manager="skiff-set")
        add_all_namespaces(q)
        q.set_defaults(run=run, positionals_into="args")


def _split(words: list[str]) -> tuple[list[str], list[str]]:
    changes = [w for w in words if "=" in w or (w.endswith("-") and "/" not in w)]
    return [w for w in words if w not in changes], changes


def _update(s: Session, args: argparse.Namespace, words: list[str], change: Any, verb: str) -> int:
    """Change each object and update it whole; on a conflict (a controller wrote status meanwhile) read it
    again and redo the change, as a patch would have merged."""
    for res, obj in objects_of(s, args, words):
        for attempt in range(5):
            obj.setdefault("apiVersion", res.group_version)
            obj.setdefault("kind", res.kind)
            change(obj)
            meta = obj["metadata"]
            result = obj
            if writes.client_dry_run(args):
                break
            try:
                result = s.rest.request(
                    "PUT", res.path(meta.get("namespace", ""), meta["name"]), body=obj, params=writes.params(args)
                )
                break
            except ApiError as err:
                if err.http_code != 409 or attempt == 4:
                    raise
                obj = s.get(res, meta["name"], meta.get("namespace", ""))
        writes.report(args, res, result, verb)
    return 0


def run_image(args: argparse.Namespace) -> int:
    words, changes = _split(args.args)
    images = dict(c.split("=", 1) for c in changes)
    if not images:
        raise CliError("error: at least one image update is required")

    def change(obj: dict[str, Any]) -> None:
        for name, image in images.items():
            found = containers(obj, name)
            if not found:
                raise CliError(f'error: unable to find container named "{name}"')
            for c in found:
                c["image"] = image

    return _update(Session(args), args, words, change, "image updated")


def run_env(args: argparse.Namespace) -> int:
    words, changes = _split(args.args)
    s = Session(args)
    if args.list:
        for _, obj in objects_of(s, args, words):
            for c in containers(obj, args.containers):
                print(f"# {obj.get('kind', '').lower()}s/{obj['metadata']['name']}, container {c['name']}")
                for env in c.get("env") or []:
                    print(f"{env['name']}={env.get('value', '')}")
        return 0

    def change(obj: dict[str, Any]) -> None:
        for c in containers(obj, args.containers, init=False):
            env = list(c.get("env") or [])
            for item in changes:
                if "=" in item:
                    key, _, value = item.partition("=")
                    env = [e for e in env if e["name"] != key] + [{"name": key, "value": value}]
                else:
                    env = [e for e in env if e["name"] != item[:-1]]
            c["env"] = env

    return _update(s, args, words, change, "env updated")


def _quantities(text: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in text.split(",") if p)


def run_resources(args: argparse.Namespace) -> int:
    if not args.limits and not args.requests:
        raise CliError("error: you must specify an update to requests or limits (in the form of --requests/--limits)")

    def change(obj: dict[str, Any]) -> None:
        for c in containers(obj, args.containers, init=False):
            res = c.setdefault("resources", {})
            if args.limits:
                res.setdefault("limits", {}).update(_quantities(args.limits))
            if args.requests:
                res.setdefault("requests", {}).update(_quantities(args.requests))

    return _update(Session(args), args, args.args, change, "resource requirements updated")
