"""Validation primitives, with Kubernetes' wording, returning FieldErrors (never raising).

Each ``validate_*`` returns a list of ``FieldError`` so a kind's validator can concatenate every problem
and raise one ``errors.Invalid``. Messages are apimachinery's (k8s.io/apimachinery/pkg/util/validation)
word for word, and an invalid value is shown the way ``field.Invalid`` prints it, so
``metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of ...`` reads exactly
as it does against a real cluster. The ``*_problems`` helpers return the bare messages for callers that
are not validating a field (the label selector parser).

Deviation: ``validate_object_meta`` accepts an empty name when generateName is set, because the Skiff
apiserver may validate before it generates the name (Kubernetes generates first).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from skiff.api.meta.v1 import meta_pb2

from skiff_common.apimachinery.quantity import parse_quantity
from skiff_common.errors import FieldError

NameValidator = Callable[[str, str], list[FieldError]]
TOTAL_ANNOTATION_SIZE_LIMIT: Final = 256 * 1024

_DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT: Final = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT: Final = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT: Final = "(" + _QNAME_FMT + ")?"
_PERCENT_FMT: Final = "[0-9]+%"
_CONFIG_KEY_FMT: Final = "[-._a-zA-Z0-9]+"
_RE: Final = {
    fmt: re.compile(fmt)
    for fmt in (
        _DNS1123_LABEL_FMT,
        _DNS1123_SUBDOMAIN_FMT,
        _DNS1035_LABEL_FMT,
        _QNAME_FMT,
        _LABEL_VALUE_FMT,
        _PERCENT_FMT,
        _CONFIG_KEY_FMT,
    )
}


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError text."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _matches(fmt: str, value: str) -> bool:
    return _RE[fmt].fullmatch(value) is not None


def dns1123_label_problems(value: str) -> list[str]:
    out = [] if len(value) <= 63 else ["must be no more than 63 characters"]
    if not _matches(_DNS1123_LABEL_FMT, value):
        out.append(
            regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character",
                _DNS1123_LABEL_FMT,
                "my-name",
                "123-abc",
            )
        )
    return out


def dns1123_subdomain_problems(value: str) -> list[str]:
    out = [] if len(value) <= 253 else ["must be no more than 253 characters"]
    if not _matches(_DNS1123_SUBDOMAIN_FMT, value):
        out.append(
            regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric "
                "character",
                _DNS1123_SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return out


def dns1035_label_problems(value: str) -> list[str]:
    out = [] if len(value) <= 63 else ["must be no more than 63 characters"]
    if not _matches(_DNS1035_LABEL_FMT, value):
        out.append(
            regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or "
                "'-', start with an alphabetic character, and end with an alphanumeric "
                "character",
                _DNS1035_LABEL_FMT,
                "my-name",
                "abc-123",
            )
        )
    return out


def qualified_name_problems(value: str) -> list[str]:
    """Label keys, annotation keys, finalizers: optional DNS subdomain prefix, '/', name."""
    name_msg = (
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character"
    )
    parts = value.split("/")
    out: list[str] = []
    if len(parts) > 2:
        return [
            "a qualified name "
            + regex_error(name_msg, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            out.append("prefix part must be non-empty")
        else:
            out.extend("prefix part " + msg for msg in dns1123_subdomain_problems(prefix))
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    if not _matches(_QNAME_FMT, name):
        out.append("name part " + regex_error(name_msg, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return out


def config_key_problems(value: str) -> list[str]:
    """A key of a Secret's or ConfigMap's data: it becomes a file name in a volume."""
    out = [] if len(value) <= 253 else ["must be no more than 253 characters"]
    if not _matches(_CONFIG_KEY_FMT, value):
        msg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        out.append(regex_error(msg, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        out.append("must not be '.'")
    elif value == "..":
        out.append("must not be '..'")
    elif value.startswith(".."):
        out.append("must not start with '..'")
    return out


def label_value_problems(value: str) -> list[str]:
    out = [] if len(value) <= 63 else ["must be no more than 63 characters"]
    if not _matches(_LABEL_VALUE_FMT, value):
        out.append(
            regex_error(
                "a valid label must be an empty string or consist of alphanumeric "
                "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                "character",
                _LABEL_VALUE_FMT,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return out


def invalid(path: str, value: Any, detail: str) -> FieldError:
    """field.Invalid: the detail is prefixed with the offending value, JSON-quoted."""
    return FieldError(path, "Invalid value", f"{json.dumps(value, ensure_ascii=False)}: {detail}")


def _each(path: str, value: Any, problems: Sequence[str]) -> list[FieldError]:
    return [invalid(path, value, msg) for msg in problems]


def validate_dns1123_subdomain(value: str, path: str) -> list[FieldError]:
    return _each(path, value, dns1123_subdomain_problems(value))


def validate_dns1123_label(value: str, path: str) -> list[FieldError]:
    return _each(path, value, dns1123_label_problems(value))


def validate_dns1035_label(value: str, path: str) -> list[FieldError]:
    return _each(path, value, dns1035_label_problems(value))


def validate_label_key(key: str, path: str) -> list[FieldError]:
    return _each(path, key, qualified_name_problems(key))


def validate_label_value(value: str, path: str) -> list[FieldError]:
    return _each(path, value, label_value_problems(value))


def validate_labels(labels: Mapping[str, str], path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for key in sorted(labels):
        out += validate_label_key(key, path)
        out += validate_label_value(labels[key], path)
    return out


def validate_annotations(annotations: Mapping[str, str], path: str) -> list[FieldError]:
    """Keys are qualified names (case-insensitive); keys plus values at most 256 KiB in total."""
    out: list[FieldError] = []
    total = 0
    for key in sorted(annotations):
        out += _each(path, key, qualified_name_problems(key.lower()))
        total += len(key.encode()) + len(annotations[key].encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(FieldError(path, "Too long", f"must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"))
    return out


def validate_object_meta(
    meta: meta_pb2.ObjectMeta,
    path: str = "metadata",
    *,
    namespaced: bool,
    name_validator: NameValidator = validate_dns1123_subdomain,
) -> list[FieldError]:
    """ObjectMeta rules shared by every kind (ValidateObjectMeta)."""
    out: list[FieldError] = []
    if meta.generate_name:
        # A prefix may end in '-': mask it so the name rules apply to what will be generated.
        masked = meta.generate_name[:-1] + "a" if meta.generate_name.endswith("-") else meta.generate_name
        shown = json.dumps(masked, ensure_ascii=False) + ": "
        out += [
            invalid(f"{path}.generateName", meta.generate_name, e.detail.removeprefix(shown))
            for e in name_validator(masked, f"{path}.generateName")
        ]
    if meta.name:
        out += name_validator(meta.name, f"{path}.name")
    elif not meta.generate_name:
        out.append(FieldError(f"{path}.name", "Required value", "name or generateName is required"))
    if namespaced:
        if not meta.namespace:
            out.append(FieldError(f"{path}.namespace", "Required value"))
        else:
            out += validate_dns1123_label(meta.namespace, f"{path}.namespace")
    elif meta.namespace:
        out.append(FieldError(f"{path}.namespace", "Forbidden", "not allowed on this type"))
    if meta.generation < 0:
        out.append(invalid(f"{path}.generation", meta.generation, "must be greater than or equal to 0"))
    out += validate_labels(meta.labels, f"{path}.labels")
    out += validate_annotations(meta.annotations, f"{path}.annotations")
    out += _validate_owner_references(meta.owner_references, f"{path}.ownerReferences")
    for i, finalizer in enumerate(meta.finalizers):
        out += _each(f"{path}.finalizers[{i}]", finalizer, qualified_name_problems(finalizer))
    if "orphan" in meta.finalizers and "foregroundDeletion" in meta.finalizers:
        # Kubernetes' ValidateFinalizers: the garbage collector cannot do both.
        both = "finalizer orphan and foregroundDeletion cannot be both set"
        out.append(invalid(f"{path}.finalizers", list(meta.finalizers), both))
    return out


def _validate_owner_references(refs: Sequence[meta_pb2.OwnerReference], path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for i, ref in enumerate(refs):
        item = f"{path}[{i}]"
        if not ref.api_version.rpartition("/")[2]:
            out.append(invalid(f"{item}.apiVersion", ref.api_version, "version must not be empty"))
        for field, value in (("kind", ref.kind), ("name", ref.name), ("uid", ref.uid)):
            if not value:
                out.append(invalid(f"{item}.{field}", value, f"{field} must not be empty"))
    controllers = [r.name for r in refs if r.HasField("controller") and r.controller]
    if len(controllers) > 1:
        out.append(
            FieldError(
                path,
                "Invalid value",
                'Only one reference can have Controller set to true. Found "true" in '
                f"references for {', '.join(controllers)}",
            )
        )
    return out


def validate_port(value: int, path: str) -> list[FieldError]:
    if 1 <= value <= 65535:
        return []
    return [invalid(path, value, "must be between 1 and 65535, inclusive")]


def validate_quantity(value: str | meta_pb2.Quantity, path: str, *, non_negative: bool = True) -> list[FieldError]:
    """A parseable quantity; by default also >= 0, as every resource amount must be."""
    text = value.value if isinstance(value, meta_pb2.Quantity) else value
    try:
        number = parse_quantity(text)
    except ValueError as exc:
        return [invalid(path, text, str(exc))]
    if non_negative and number < 0:
        return [invalid(path, text, "must be greater than or equal to 0")]
    return []


def validate_int_or_string_percent(
    value: meta_pb2.IntOrString, path: str, *, max_percent: int | None = None
) -> list[FieldError]:
    """A non-negative integer or a percent string "25%" (ValidatePositiveIntOrPercent)."""
    if value.WhichOneof("value") == "str_val":
        if not _matches(_PERCENT_FMT, value.str_val):
            return [
                invalid(
                    path,
                    value.str_val,
                    regex_error(
                        "a valid percent string must be a numeric string followed by an ending '%'",
                        _PERCENT_FMT,
                        "1%",
                        "93%",
                    ),
                )
            ]
        if max_percent is not None and int(value.str_val[:-1]) > max_percent:
            return [invalid(path, value.str_val, f"must not be greater than {max_percent}%")]
        return []
    if value.int_val < 0:
        return [invalid(path, value.int_val, "must be greater than or equal to 0")]
    return []
