"""`kubectl get`'s Table format, computed by the server as kube-apiserver does.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the rows it gets back, so the
columns a user sees are the server's: each kind has a printer (column definitions + one function from
object to cells) with the columns Kubernetes shows for that kind, `priority: 1` marking the ones only
`-o wide` prints. Kinds without a printer get NAME and AGE, as Kubernetes' default table does.

The printers live in the apiserver, not shared with the CLI's older printers (cli/.../printers.py):
services may not import the CLI, and a CLI that asks the REST port for a Table prints the same columns.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from skiff_apiserver.rest.printers import core, policy, workloads
from skiff_apiserver.rest.printers.common import Printer, age, column
from skiff_common.apimachinery._codec import plan_for

PRINTERS: dict[str, Printer] = {**core.PRINTERS, **workloads.PRINTERS, **policy.PRINTERS}
DEFAULT = Printer([column("Name", "name"), column("Age")], lambda o: [o.metadata.name, age(o.metadata)])  # type: ignore[attr-defined]

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def wants_table(accept: str) -> bool:
    """True when the client's first acceptable type is a meta.k8s.io Table (v1, or v1beta1 for old ones)."""
    for part in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in part.split(";")[1:])}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
        if part.strip():
            return False
    return False


def _row_object(obj: Message, include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        from skiff_apiserver.machinery import convert

        return convert.to_dict(obj)
    meta: dict[str, Any] = plan_for(obj.metadata.DESCRIPTOR).encode(obj.metadata)  # type: ignore[attr-defined]
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}


def rows(kind: str, objects: list[Message], include: str = "Metadata") -> list[dict[str, Any]]:
    printer = PRINTERS.get(kind, DEFAULT)
    out = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer.cells(obj)}
        ref = _row_object(obj, include)
        if ref is not None:
            row["object"] = ref
        out.append(row)
    return out


def table(
    kind: str, objects: list[Message], list_meta: dict[str, Any], include: str = "Metadata", *, headers: bool = True
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table; without headers (a watch's later events) the column definitions are left
    out, as Kubernetes does when the client asked for `?watch` with `includeObject`."""
    body: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta}
    body["columnDefinitions"] = PRINTERS.get(kind, DEFAULT).columns if headers else []
    body["rows"] = rows(kind, objects, include)
    return body
