"""A list's Table as JSON bytes, with each row's object reference encoded once per object version.

`kubectl get` asks every list for a Table whose rows carry, besides the cells, the object's metadata as a
PartialObjectMetadata (includeObject=Metadata, kubectl's default). Walking a message's metadata into a dict
and that dict into JSON is most of the cost of a row in Python, and it is the same bytes every time the
same version of the same object is listed: (type, uid, resourceVersion) names it for good, as in
`codec.ItemCache` for JSON lists (Kubernetes' watch cache keeps serialized objects for the same reason).
The cells are computed on every list, because some depend on the clock (AGE, RESTARTS' "(5m ago)").

The bytes are the same as `json.dumps(printers.table(...))` with the REST port's separators: same keys,
same order (the tests compare them).
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.message import Message
from skiff_apiserver.rest.codec import VersionedBytes
from skiff_apiserver.rest.printers import DEFAULT, PRINTERS, rows
from skiff_common.apimachinery._codec import plan_for

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_REF_HEAD = b'{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":'


def _reference(obj: Message) -> bytes:
    """A row's object: the metadata as a PartialObjectMetadata (kubectl's includeObject=Metadata)."""
    m = obj.metadata  # type: ignore[attr-defined]
    return b"".join((_REF_HEAD, _dumps(plan_for(m.DESCRIPTOR).encode(m)).encode(), b"}"))


class TableCache:
    """Bounded (oldest first out); objects without uid or resourceVersion are encoded but not kept."""

    def __init__(self, size: int = 20000) -> None:
        self._refs = VersionedBytes(_reference, size)

    def body(self, kind: str, objects: list[Message], list_meta: dict[str, Any], include: str = "Metadata") -> bytes:
        """The whole Table of a list (with column definitions), as the REST port sends it."""
        printer = PRINTERS.get(kind, DEFAULT)
        head = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta}
        head["columnDefinitions"] = printer.columns  # type: ignore[assignment]
        prefix = _dumps(head)[:-1].encode()
        cells = printer.cells
        if include == "Metadata":
            ref = self._refs.get
            out = [b"".join((b'{"cells":', _dumps(cells(o)).encode(), b',"object":', ref(o), b"}")) for o in objects]
        elif include == "None":
            out = [b"".join((b'{"cells":', _dumps(cells(o)).encode(), b"}")) for o in objects]
        else:  # the whole object: rare (kubectl never asks for it), not cached
            out = [_dumps(r).encode() for r in rows(kind, objects, include)]
        return b"".join((prefix, b',"rows":[', b",".join(out), b"]}"))
