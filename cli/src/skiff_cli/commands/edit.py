"""`skiff edit TYPE NAME`: the object as YAML in $KUBE_EDITOR / $EDITOR (else vi); saved changes are
sent as a whole-object update. When the server refuses them (invalid, conflict) the editor opens again on
the edited text with the error as comments on top, as kubectl does; quitting without a change then
gives up, leaving a copy of the edit in a temporary file."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import tempfile

import yaml

from ..kube import writes
from ..kube.errors import ApiError, CliError
from ..kube.output import dump_yaml
from ..kube.session import Session
from ..kube.targets import objects_of

HEADER = """# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edit", help="edit an object in your editor")
    p.add_argument("resources", nargs="*")
    p.add_argument("-f", "--filename", action="append", default=[])
    writes.add_write_flags(p, manager="skiff-edit")
    p.set_defaults(run=run, positionals_into="resources")


def editor() -> list[str]:
    return shlex.split(os.environ.get("KUBE_EDITOR") or os.environ.get("EDITOR") or "vi")


def run(args: argparse.Namespace) -> int:
    s = Session(args)
    for res, obj in objects_of(s, args, args.resources):
        obj.setdefault("apiVersion", res.group_version)
        obj.setdefault("kind", res.kind)
        original = dump_yaml(obj)
        text, errors = original, ""
        while True:
            edited = _edit(HEADER + errors + text)
            body = "\n".join(line for line in edited.splitlines() if not line.lstrip().startswith("#"))
            if not body.strip():
                raise CliError("Edit cancelled, no changes made.")
            if errors and body.strip() == text.strip():
                path = _keep(edited)
                raise CliError(
                    f'error: Edit cancelled, no valid changes were saved.\nA copy of your changes has been stored to "{path}"'  # noqa: E501
                )
            if body.strip() == original.strip():
                print("Edit cancelled, no changes made.")
                break
            try:
                new = yaml.safe_load(body)
            except yaml.YAMLError as err:
                errors, text = f"# {str(err).splitlines()[0]}\n#\n", body + "\n"
                continue
            meta = new.get("metadata") or {}
            try:
                result = s.rest.request(
                    "PUT",
                    res.path(meta.get("namespace", ""), meta.get("name", "")),
                    body=new,
                    params=writes.params(args, fieldValidation="Strict"),
                )
            except ApiError as err:
                lines = "".join(f"# {line}\n" for line in err.message.splitlines())
                errors, text = f'# {res.kind_group} "{meta.get("name")}" was not valid:\n{lines}#\n', body + "\n"
                continue
            writes.report(args, res, result, "edited")
            break
    return 0


def _edit(text: str) -> str:
    fd, path = tempfile.mkstemp(prefix="skiff-edit-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if subprocess.run([*editor(), path], check=False).returncode != 0:
            raise CliError("error: there was a problem with the editor")
        with open(path) as f:
            return f.read()
    finally:
        os.unlink(path)


def _keep(text: str) -> str:
    fd, path = tempfile.mkstemp(prefix="skiff-edit-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path
