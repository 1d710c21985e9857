"""`skiff version`: the client's version and the server's (`/version`), as text, JSON or YAML."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib.metadata import version as dist_version
from typing import Any

from ..kube.errors import CliError
from ..kube.output import dump_json, dump_yaml
from ..kube.session import Session


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print the client and server versions")
    p.add_argument("--client", action="store_true", help="the client's version only")
    p.add_argument("-o", "--output", default="", choices=["", "json", "yaml"])
    p.set_defaults(run=run)


def client_info() -> dict[str, Any]:
    v = dist_version("skiff-cli")
    return {
        "gitVersion": f"v{v}",
        "goVersion": f"python{platform.python_version()}",
        "platform": f"{platform.system().lower()}/{platform.machine()}",
    }


def run(args: argparse.Namespace) -> int:
    info: dict[str, Any] = {"clientVersion": client_info()}
    failure: CliError | None = None
    if not args.client:
        try:
            info["serverVersion"] = Session(args).rest.get("/version")
        except CliError as err:
            failure = err
    if args.output == "json":
        sys.stdout.write(dump_json(info))
    elif args.output == "yaml":
        sys.stdout.write(dump_yaml(info))
    else:
        print(f"Client Version: {info['clientVersion']['gitVersion']}")
        if "serverVersion" in info:
            print(f"Server Version: {info['serverVersion'].get('gitVersion', '')}")
    if failure:
        raise failure
    return 0
