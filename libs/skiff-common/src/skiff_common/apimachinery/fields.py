"""Field selectors (``metadata.name=web,status.phase!=Running``) and the selectable fields of each kind.

Syntax as apimachinery's ``fields.ParseSelector``: terms separated by unescaped commas, each
``field=value``, ``field==value`` or ``field!=value``; ``\\``, ``\\,`` and ``\\=`` escape in values.
One leniency: whitespace around a term's field and value is ignored (Kubernetes keeps it and then fails
on the unknown field name ``"metadata.name "``).

Only a few fields per kind are selectable, as in Kubernetes (``kubectl get pods
--field-selector spec.nodeName=node-1``). ``object_fields`` computes them from an object and
``supported_fields`` lists them, so the apiserver can reject ``field label not supported: spec.foo``
before it looks at any object. A missing field reads as "" (so ``spec.nodeName=`` finds unscheduled pods).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from google.protobuf.message import Message

from skiff_common.apimachinery import kinds

FieldOperator = Literal["=", "==", "!="]


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: FieldOperator
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        equal = fields.get(self.field, "") == self.value
        return not equal if self.operator == "!=" else equal

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """Terms ANDed together; no terms selects everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def fields(self) -> frozenset[str]:
        return frozenset(r.field for r in self.requirements)

    def exact_value(self, field: str) -> str | None:
        """The value ``field`` must equal, if a term pins it (lets a store narrow its scan)."""
        return next((r.value for r in self.requirements if r.field == field and r.operator != "!="), None)

    def check_supported(self, kind: str) -> None:
        """ValueError('field label not supported: spec.foo') for a field the kind cannot select on."""
        unsupported = sorted(self.fields() - supported_fields(kind))
        if unsupported:
            raise ValueError(f"field label not supported: {unsupported[0]}")

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def parse_field_selector(text: str) -> FieldSelector:
    """Parse the string form; ValueError with the reason on bad input."""
    reqs: list[FieldRequirement] = []
    for term in sorted(_split_terms(text)):
        if not term.strip():
            continue
        split = _split_term(term)
        if split is None:
            raise ValueError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, operator, raw = split
        field = field.strip()
        if not field:
            raise ValueError(f"invalid selector: '{text}'; missing field name in '{term}'")
        reqs.append(FieldRequirement(field, operator, _unescape(raw.strip())))
    return FieldSelector(tuple(reqs))


def _split_terms(text: str) -> list[str]:
    terms, start, escaped = [], 0, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, FieldOperator, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            if nxt not in ("\\", ",", "="):
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{nxt}")
            out.append(nxt)
        elif char in ",=":
            raise ValueError(f"invalid field selector: unescaped character {char}")
        else:
            out.append(char)
    return "".join(out)


def _flag(value: bool) -> str:
    return "true" if value else "false"


Getter = Callable[[Any], str]
_META: Final[dict[str, Getter]] = {
    "metadata.name": lambda o: o.metadata.name,
    "metadata.namespace": lambda o: o.metadata.namespace,
}
_BY_KIND: Final[dict[str, dict[str, Getter]]] = {
    "Pod": {
        "spec.nodeName": lambda o: o.spec.node_name,
        "spec.restartPolicy": lambda o: o.spec.restart_policy,
        "spec.schedulerName": lambda o: o.spec.scheduler_name,
        "spec.serviceAccountName": lambda o: o.spec.service_account_name,
        "spec.hostNetwork": lambda o: _flag(o.spec.host_network),
        "status.phase": lambda o: o.status.phase,
        "status.podIP": lambda o: o.status.pod_ip,
        "status.nominatedNodeName": lambda o: o.status.nominated_node_name,
    },
    "Event": {
        "involvedObject.kind": lambda o: o.involved_object.kind,
        "involvedObject.namespace": lambda o: o.involved_object.namespace,
        "involvedObject.name": lambda o: o.involved_object.name,
        "involvedObject.uid": lambda o: o.involved_object.uid,
        "involvedObject.apiVersion": lambda o: o.involved_object.api_version,
        "involvedObject.resourceVersion": lambda o: o.involved_object.resource_version,
        "involvedObject.fieldPath": lambda o: o.involved_object.field_path,
        "reason": lambda o: o.reason,
        "reportingComponent": lambda o: o.reporting_component,
        "source": lambda o: o.source.component,
        "type": lambda o: o.type,
    },
    "Secret": {"type": lambda o: o.type},
    "Node": {"spec.unschedulable": lambda o: _flag(o.spec.unschedulable)},
    "Namespace": {"status.phase": lambda o: o.status.phase},
    "ReplicaSet": {"status.replicas": lambda o: str(o.status.replicas)},
    "Job": {"status.successful": lambda o: str(o.status.succeeded)},
}
_SUPPORTED: Final = {kind: frozenset(_META) | frozenset(getters) for kind, getters in _BY_KIND.items()}
_META_ONLY: Final = frozenset(_META)


def supported_fields(kind: str) -> frozenset[str]:
    """The field names a selector may use for ``kind`` ("Pod"); metadata.name/namespace for all."""
    return _SUPPORTED.get(kind, _META_ONLY)


def object_fields(obj: Message) -> dict[str, str]:
    """The selectable fields of an object, as strings."""
    getters = _BY_KIND.get(kinds.kind_of(obj).kind, {})
    return {name: get(obj) for name, get in (_META | getters).items()}
