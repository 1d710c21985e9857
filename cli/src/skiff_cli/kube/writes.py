"""What every verb that changes objects shares: --dry-run, --field-manager, -o, and kubectl's one-line
report (`deployment.apps/web created`, `pod/x labeled (dry run)`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import output
from .errors import CliError
from .resources import Resource


def add_write_flags(parser: argparse.ArgumentParser, *, manager: str = "skiff") -> None:
    parser.add_argument(
        "--dry-run",
        nargs="?",
        const="client",
        default="none",
        choices=["none", "client", "server"],
        help="client: only print what would be sent; server: the server checks it but keeps nothing",
    )
    parser.add_argument("--field-manager", default=manager, help="the name of the manager making this change")
    output.add_output_flags(parser, tables=False)


def params(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    """Query parameters of a write: dryRun=All for --dry-run=server, the field manager, strict validation."""
    found: dict[str, Any] = {"fieldManager": getattr(args, "field_manager", "skiff"), **extra}
    if getattr(args, "dry_run", "none") == "server":
        found["dryRun"] = "All"
    return found


def delete_params(args: argparse.Namespace) -> dict[str, Any]:
    return {"dryRun": "All"} if getattr(args, "dry_run", "none") == "server" else {}


def client_dry_run(args: argparse.Namespace) -> bool:
    return getattr(args, "dry_run", "none") == "client"


def suffix(args: argparse.Namespace) -> str:
    mode = getattr(args, "dry_run", "none")
    return {"client": " (dry run)", "server": " (server dry run)"}.get(mode, "")


def report(args: argparse.Namespace, resource: Resource, obj: dict[str, Any], verb: str) -> None:
    out = getattr(args, "output", "")
    if out:
        output.check_format(out)
        if output.is_table(out):
            raise CliError(
                f'error: unable to match a printer suitable for the output format "{out}", allowed '
                "formats are: go-template,go-template-file,json,jsonpath,jsonpath-file,name,template,"
                "templatefile,yaml"
            )
        obj.setdefault("apiVersion", resource.group_version)
        obj.setdefault("kind", resource.kind)
        if out == "name":
            print(output.name_of(resource, obj))
        else:
            sys.stdout.write(
                output.structured(
                    out,
                    [(resource, obj)],
                    single=True,
                    template=getattr(args, "template", ""),
                    show_managed_fields=getattr(args, "show_managed_fields", False),
                )
            )
        return
    print(f"{output.name_of(resource, obj)} {verb}{suffix(args)}")


def place(session: Any, resource: Resource, obj: dict[str, Any]) -> str:
    """The namespace an object from a manifest goes to: its own, else -n's, else the context's; an object
    naming another namespace than an explicit -n is refused, as kubectl does."""
    if not resource.namespaced:
        obj.get("metadata", {}).pop("namespace", None)
        return ""
    meta = obj.setdefault("metadata", {})
    own = meta.get("namespace")
    if own and session.explicit_namespace and own != session.namespace:
        raise CliError(
            f'error: the namespace from the provided object "{own}" does not match the namespace '
            f"\"{session.namespace}\". You must pass '--namespace={own}' to perform this operation."
        )
    meta["namespace"] = own or session.namespace
    return str(meta["namespace"])


def create(session: Any, args: argparse.Namespace, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """POST one object (or, with --dry-run=client, only return it)."""
    ns = place(session, resource, obj)
    if client_dry_run(args):
        return obj
    path = resource.path(ns)
    return dict(session.rest.request("POST", path, body=obj, params=params(args, fieldValidation="Strict")))
