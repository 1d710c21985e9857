"""`skiff wait --for=condition=C[=value] | --for=delete | --for=jsonpath='{expr}'=value TYPE NAME`.

Polls each object until the condition holds (kubectl watches; polling keeps one code path for every
condition and costs a request per half second), then prints `<kind>/<name> condition met` (or
`deleted`); after --timeout, kubectl's `timed out waiting for the condition on <resource>/<name>`.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from ..kube import jsonpath
from ..kube.errors import ApiError, CliError
from ..kube.resources import is_not_found
from ..kube.session import Session, add_all_namespaces
from ..kube.targets import objects_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("wait", help="wait for a condition on objects")
    p.add_argument("resources", nargs="*")
    p.add_argument("--for", dest="for_", required=True, help="delete | condition=NAME[=VALUE] | jsonpath='{...}'=VALUE")
    p.add_argument("--timeout", default="30s")
    p.add_argument("-l", "--selector", default="")
    p.add_argument("--all", action="store_true")
    p.add_argument("-f", "--filename", action="append", default=[])
    add_all_namespaces(p)
    p.set_defaults(run=run, positionals_into="resources")


def seconds(text: str) -> float:
    scale = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * scale[text[-1]] if text[-1:] in scale else float(text)


def condition(spec: str) -> Any:
    kind, _, rest = spec.partition("=")
    if spec == "delete":
        return None
    if kind == "condition":
        name, _, value = rest.partition("=")
        want = (value or "true").lower()

        def check(obj: dict[str, Any]) -> bool:
            conds = (obj.get("status") or {}).get("conditions") or []
            return any(
                c.get("type", "").lower() == name.lower() and str(c.get("status", "")).lower() == want for c in conds
            )

        return check
    if kind == "jsonpath":
        expr, sep, value = rest.rpartition("=") if not rest.rstrip().endswith("}") else (rest, "", "")
        expr = expr.strip("'\"")

        def check_path(obj: dict[str, Any]) -> bool:
            found = jsonpath.values(expr, obj)
            return bool(found) and (not sep or jsonpath.text(found[0]) == value.strip("'\""))

        return check_path
    raise CliError(f'error: unrecognized condition: "{spec}"')


def run(args: argparse.Namespace) -> int:
    check = condition(args.for_)
    s = Session(args)
    deadline = time.monotonic() + seconds(args.timeout)
    try:
        targets = list(objects_of(s, args, args.resources))
    except ApiError as err:
        if check is None and is_not_found(err):
            return 0
        raise
    if not targets:
        raise CliError("error: no matching resources found")
    for res, obj in targets:
        meta = obj["metadata"]
        label = f"{res.kind_group}/{meta['name']}"
        while True:
            if check is not None and check(obj):
                print(f"{label} condition met")
                break
            if time.monotonic() > deadline:
                raise CliError(f"error: timed out waiting for the condition on {res.qualified}/{meta['name']}")
            time.sleep(0.5)
            try:
                current = s.get(res, meta["name"], meta.get("namespace", ""))
            except ApiError as err:
                if check is None and is_not_found(err):
                    print(f"{label} deleted")
                    break
                raise
            if check is None and current["metadata"].get("uid") != meta.get("uid"):
                print(f"{label} deleted")
                break
            obj = current
    return 0
