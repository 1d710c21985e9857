"""`skiff config view|get-contexts|current-context|use-context|set-context`: read and edit kubeconfig
files as kubectl does. Reads see the merged files; edits go to the --kubeconfig file, else the first file
of $KUBECONFIG, else ~/.kube/config."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..kube import config
from ..kube.errors import CliError
from ..kube.output import check_format, layout, structured


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="view or edit kubeconfig files")
    verbs = p.add_subparsers(dest="what", required=True)
    v = verbs.add_parser("view", help="the merged kubeconfig")
    v.add_argument("--raw", action="store_true", help="show certificate data and tokens")
    v.add_argument("--minify", action="store_true", help="only what the current context uses")
    v.add_argument("-o", "--output", default="yaml")
    v.set_defaults(run=run_view)
    g = verbs.add_parser("get-contexts", help="list contexts")
    g.add_argument("names", nargs="*")
    g.add_argument("-o", "--output", default="", choices=["", "name"])
    g.add_argument("--no-headers", action="store_true")
    g.set_defaults(run=run_get_contexts)
    verbs.add_parser("current-context", help="the current context").set_defaults(run=run_current)
    u = verbs.add_parser("use-context", help="make a context current")
    u.add_argument("name")
    u.set_defaults(run=run_use)
    s = verbs.add_parser("set-context", help="create or change a context")
    s.add_argument("name", nargs="?", default="")
    s.add_argument("--current", action="store_true")
    s.add_argument("--cluster", default=None)
    s.add_argument("--user", default=None)
    s.add_argument("--namespace", dest="ctx_namespace", default=None)
    s.set_defaults(run=run_set)


def _load(args: argparse.Namespace) -> config.KubeConfig:
    return config.load(getattr(args, "kubeconfig", None))


def _redact(section: dict[str, Any]) -> dict[str, Any]:
    out = dict(section)
    for key in ("certificate-authority-data", "client-certificate-data"):
        if out.get(key):
            out[key] = "DATA+OMITTED"
    for key in ("client-key-data", "token", "password"):
        if out.get(key):
            out[key] = "REDACTED"
    return out


def run_view(args: argparse.Namespace) -> int:
    kc = _load(args)
    if args.minify:
        if not kc.current_context or kc.current_context not in kc.contexts:
            raise CliError("error: current-context must exist in order to minify")
        ctx = kc.contexts[kc.current_context]
        kc.contexts = {kc.current_context: ctx}
        kc.clusters = {k: v for k, v in kc.clusters.items() if k == ctx.get("cluster")}
        kc.users = {k: v for k, v in kc.users.items() if k == ctx.get("user")}
    if not args.raw:
        kc.clusters = {k: _redact(v) for k, v in kc.clusters.items()}
        kc.users = {k: _redact(v) for k, v in kc.users.items()}
    check_format(args.output)
    sys.stdout.write(structured(args.output, [(None, kc.as_dict())], single=True))  # type: ignore[list-item]
    return 0


def run_get_contexts(args: argparse.Namespace) -> int:
    kc = _load(args)
    names = args.names or sorted(kc.contexts)
    missing = [n for n in names if n not in kc.contexts]
    if args.output == "name":
        sys.stdout.write("".join(n + "\n" for n in names if n in kc.contexts))
    else:
        rows = [] if args.no_headers else [["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]]
        for n in names:
            if n in kc.contexts:
                c = kc.contexts[n]
                rows.append(
                    [
                        "*" if n == kc.current_context else "",
                        n,
                        c.get("cluster", ""),
                        c.get("user", ""),
                        c.get("namespace", ""),
                    ]
                )
        sys.stdout.write(layout(rows))
    if missing:
        raise CliError(f"error: context {missing[0]} not found")
    return 0


def run_current(args: argparse.Namespace) -> int:
    kc = _load(args)
    if not kc.current_context:
        raise CliError("error: current-context is not set")
    print(kc.current_context)
    return 0


def run_use(args: argparse.Namespace) -> int:
    kc = _load(args)
    if args.name not in kc.contexts:
        raise CliError(f'error: no context exists with the name: "{args.name}"')
    config.edit_file(config.first_file(kc), lambda data: data.__setitem__("current-context", args.name))
    print(f'Switched to context "{args.name}".')
    return 0


def run_set(args: argparse.Namespace) -> int:
    kc = _load(args)
    name = kc.current_context if args.current else args.name
    if not name:
        raise CliError("error: you must specify a non-empty context name or --current")
    existed = name in kc.contexts

    def change(data: dict[str, Any]) -> None:
        entry = next((c for c in data["contexts"] if c.get("name") == name), None)
        if entry is None:
            entry = {"name": name, "context": dict(kc.contexts.get(name, {}))}
            data["contexts"].append(entry)
        ctx = entry.setdefault("context", {}) or {}
        entry["context"] = ctx
        for key, value in (("cluster", args.cluster), ("user", args.user), ("namespace", args.ctx_namespace)):
            if value is not None:
                ctx[key] = value

    config.edit_file(config.first_file(kc), change)
    print(f'Context "{name}" {"modified" if existed else "created"}.')
    return 0
