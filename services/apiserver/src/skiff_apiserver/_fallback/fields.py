"""Fallback field selectors (same API as skiff_common.apimachinery.fields)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf.message import Message

_COMMON = ("metadata.name", "metadata.namespace")
_PER_KIND: dict[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "status.phase", "status.podIP"),
    "Event": ("involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid",
              "reason", "type"),
    "Secret": ("type",),
    "Node": ("spec.unschedulable",),
}  # fmt: skip


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[tuple[str, str, str], ...] = ()  # (field, op, value), op "=" or "!="

    def matches(self, fields: Mapping[str, str]) -> bool:
        for name, op, value in self.terms:
            actual = fields.get(name, "")
            if (actual == value) != (op == "="):
                return False
        return True

    def empty(self) -> bool:
        return not self.terms

    def fields(self) -> set[str]:
        return {t[0] for t in self.terms}


def parse_field_selector(text: str) -> FieldSelector:
    terms = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        for op in ("!=", "==", "="):
            if op in part:
                name, value = part.split(op, 1)
                terms.append((name.strip(), "!=" if op == "!=" else "=", value.strip()))
                break
        else:
            raise ValueError(f"invalid field selector term {part!r}: expected field=value or field!=value")
    return FieldSelector(tuple(terms))


def supported_fields(kind: str) -> frozenset[str]:
    return frozenset(_COMMON + _PER_KIND.get(kind, ()))


def object_fields(obj: Message) -> dict[str, str]:
    meta = obj.metadata  # type: ignore[attr-defined]
    out = {"metadata.name": meta.name, "metadata.namespace": meta.namespace}
    kind = obj.DESCRIPTOR.name
    if kind == "Pod":
        out |= {"spec.nodeName": obj.spec.node_name, "spec.restartPolicy": obj.spec.restart_policy,  # type: ignore[attr-defined]
                "spec.schedulerName": obj.spec.scheduler_name, "status.phase": obj.status.phase,  # type: ignore[attr-defined]
                "status.podIP": obj.status.pod_ip}  # type: ignore[attr-defined]
    elif kind == "Event":
        io = obj.involved_object  # type: ignore[attr-defined]
        out |= {"involvedObject.kind": io.kind, "involvedObject.name": io.name,
                "involvedObject.namespace": io.namespace, "involvedObject.uid": io.uid,
                "reason": obj.reason, "type": obj.type}  # type: ignore[attr-defined]
    elif kind == "Secret":
        out["type"] = obj.type  # type: ignore[attr-defined]
    elif kind == "Node":
        out["spec.unschedulable"] = "true" if obj.spec.unschedulable else "false"  # type: ignore[attr-defined]
    return out
