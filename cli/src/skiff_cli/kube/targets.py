"""The objects a verb acts on, from its arguments as kubectl accepts them: `TYPE NAME...`, `TYPE/NAME...`,
`TYPE -l SELECTOR`, `TYPE --all`, or `-f FILE` -- fetched, so the verb sees their current state."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from . import manifests, writes
from .errors import CliError
from .resources import Resource
from .session import Session


def objects_of(s: Session, args: argparse.Namespace, words: list[str]) -> Iterator[tuple[Resource, dict[str, Any]]]:
    if getattr(args, "filename", None):
        for _, obj in manifests.load(args.filename, getattr(args, "recursive", False)):
            res = s.mapper.for_object(obj)
            ns = writes.place(s, res, obj)
            yield res, s.get(res, obj["metadata"]["name"], ns)
        return
    if not words:
        raise CliError("error: one or more resources must be specified as <resource> <name> or <resource>/<name>")
    selector = getattr(args, "selector", "")
    for sel in s.select(words):
        res = sel.resource
        if sel.names:
            for name in sel.names:
                yield res, s.get(res, name, s.ns_for(res) or s.namespace)
            continue
        if not (getattr(args, "all", False) or selector):
            raise CliError("error: resource(s) were provided, but no name was specified")
        listed = s.rest.get(res.path(s.ns_for(res)), params={"labelSelector": selector})
        for item in listed.get("items") or []:
            item.setdefault("apiVersion", res.group_version)
            item.setdefault("kind", res.kind)
            yield res, item
