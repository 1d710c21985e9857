"""Fallback validation primitives (same API as skiff_common.apimachinery.validation)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from skiff_common.errors import FieldError

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def validate_dns1123_label(value: str, path: str) -> list[FieldError]:
    if len(value) > 63:
        return [FieldError(path, "Invalid value", f"{value!r}: must be no more than 63 characters")]
    if not _LABEL.match(value):
        return [FieldError(path, "Invalid value", f"{value!r}: a lowercase RFC 1123 label must consist of lower "
                           "case alphanumeric characters or '-', and must start and end with an alphanumeric "
                           "character")]
    return []


def validate_dns1123_subdomain(value: str, path: str) -> list[FieldError]:
    if len(value) > 253:
        return [FieldError(path, "Invalid value", f"{value!r}: must be no more than 253 characters")]
    if not _SUBDOMAIN.match(value):
        return [FieldError(path, "Invalid value", f"{value!r}: a lowercase RFC 1123 subdomain must consist of "
                           "lower case alphanumeric characters, '-' or '.', and must start and end with an "
                           "alphanumeric character")]
    return []


def validate_label_key(key: str, path: str) -> list[FieldError]:
    prefix, _, name = key.rpartition("/")
    errs: list[FieldError] = []
    if prefix:
        errs += [FieldError(path, "Invalid value", f"{key!r}: prefix part {e.detail}")
                 for e in validate_dns1123_subdomain(prefix, path)]
    if not name or len(name) > 63 or not _QUALIFIED.match(name):
        errs.append(FieldError(path, "Invalid value", f"{key!r}: name part must consist of alphanumeric "
                               "characters, '-', '_' or '.', start and end with an alphanumeric character, "
                               "and be at most 63 characters"))
    return errs


def validate_label_value(value: str, path: str) -> list[FieldError]:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return [FieldError(path, "Invalid value", f"{value!r}: a valid label must be an empty string or "
                           "consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                           "an alphanumeric character (at most 63 characters)")]
    return []


def validate_labels(labels: Mapping[str, str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for k, v in sorted(labels.items()):
        errs += validate_label_key(k, path)
        errs += validate_label_value(v, f"{path}[{k}]")
    return errs


def validate_annotations(annotations: Mapping[str, str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    for k, v in sorted(annotations.items()):
        errs += validate_label_key(k, path)
        total += len(k) + len(v)
    if total > 256 * 1024:
        errs.append(FieldError(path, "Too long", "must have at most 262144 bytes"))
    return errs


def validate_object_meta(
    meta: object,
    path: str = "metadata",
    *,
    namespaced: bool,
    name_validator: Callable[[str, str], list[FieldError]] = validate_dns1123_subdomain,
) -> list[FieldError]:
    errs: list[FieldError] = []
    name = meta.name  # type: ignore[attr-defined]
    if not name:
        errs.append(FieldError(f"{path}.name", "Required value", "name or generateName is required"))
    else:
        errs += name_validator(name, f"{path}.name")
    ns = meta.namespace  # type: ignore[attr-defined]
    if namespaced:
        if not ns:
            errs.append(FieldError(f"{path}.namespace", "Required value"))
        else:
            errs += validate_dns1123_label(ns, f"{path}.namespace")
    elif ns:
        errs.append(FieldError(f"{path}.namespace", "Forbidden", "not allowed on this type"))
    errs += validate_labels(meta.labels, f"{path}.labels")  # type: ignore[attr-defined]
    errs += validate_annotations(meta.annotations, f"{path}.annotations")  # type: ignore[attr-defined]
    return errs


def validate_port(value: int, path: str) -> list[FieldError]:
    if not 1 <= value <= 65535:
        return [FieldError(path, "Invalid value", f"{value}: must be between 1 and 65535, inclusive")]
    return []


_QTY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def validate_quantity(value: str, path: str) -> list[FieldError]:
    if not _QTY.match(value):
        return [FieldError(path, "Invalid value", f"{value!r}: quantities must match the regular expression "
                           "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    if value.startswith("-"):
        return [FieldError(path, "Invalid value", f"{value!r}: must be greater than or equal to 0")]
    return []
