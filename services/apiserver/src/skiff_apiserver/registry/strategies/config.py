"""Secrets and ConfigMaps (core/v1): Kubernetes' defaulting and validation.

* A Secret's `stringData` is write-only: it is folded into `data` (its values win) and never stored, as
  Kubernetes' conversion does; an empty `type` is `Opaque`.
* Every key must be a valid config key (it becomes a file name in a volume); a ConfigMap key may not be
  in both `data` and `binaryData`; the values together hold at most 1 MiB.
* The well-known Secret types carry the keys their consumers read (`tls.crt`/`tls.key`, `.dockerconfigjson`
  as JSON, ...); a ServiceAccount token names its account in an annotation.
* `type` never changes; once `immutable` is true, neither the contents nor `immutable` may change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from skiff_common.apimachinery import validation
from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategy import Strategy, immutable

MAX_SIZE = 1024 * 1024  # bytes of values per Secret or ConfigMap (etcd's request limit is 1.5 MiB)
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
IMMUTABLE_SET = "field is immutable when `immutable` is set"

# type: keys of which at least one must be present ([] : none); JSON-valued keys are checked as JSON
_REQUIRED_KEYS: dict[str, list[list[str]]] = {
    "kubernetes.io/tls": [["tls.crt"], ["tls.key"]],
    "kubernetes.io/ssh-auth": [["ssh-privatekey"]],
    "kubernetes.io/dockercfg": [[".dockercfg"]],
    "kubernetes.io/dockerconfigjson": [[".dockerconfigjson"]],
    "kubernetes.io/basic-auth": [["username", "password"]],
}
_JSON_KEYS = {"kubernetes.io/dockercfg": ".dockercfg", "kubernetes.io/dockerconfigjson": ".dockerconfigjson"}


def _key_errors(keys: Iterable[str], field: str) -> list[FieldError]:
    return [
        validation.invalid(f"{field}[{key}]", key, problem)
        for key in keys
        for problem in validation.config_key_problems(key)
    ]


def _size_errors(values: Iterable[bytes | str], field: str) -> list[FieldError]:
    total = sum(len(v.encode() if isinstance(v, str) else v) for v in values)
    if total > MAX_SIZE:
        return [FieldError(field, "Too long", f"may not be more than {MAX_SIZE} bytes")]
    return []


def _immutable_errors(new: Any, old: Any, contents: Mapping[str, tuple[object, object]]) -> list[FieldError]:
    """Once `immutable` is true: the contents stay and so does `immutable`."""
    if not old.immutable:
        return []
    errs = [FieldError("immutable", "Forbidden", IMMUTABLE_SET)] if not new.immutable else []
    return errs + [FieldError(path, "Forbidden", IMMUTABLE_SET) for path, (n, o) in contents.items() if n != o]


class SecretStrategy(Strategy):
    def default(self, obj: Any) -> None:
        for key, value in obj.string_data.items():
            obj.data[key] = value.encode()
        obj.ClearField("string_data")
        if not obj.type:
            obj.type = "Opaque"

    def validate(self, obj: Any) -> list[FieldError]:
        errs = _key_errors(obj.data, "data") + _size_errors(obj.data.values(), "data")
        if obj.type == "kubernetes.io/service-account-token" and not obj.metadata.annotations.get(SA_NAME_ANNOTATION):
            errs.append(FieldError(f"metadata.annotations[{SA_NAME_ANNOTATION}]", "Required value"))
        for either in _REQUIRED_KEYS.get(obj.type, []):
            if not any(key in obj.data for key in either):
                errs += [FieldError(f"data[{key}]", "Required value") for key in either]
        json_key = _JSON_KEYS.get(obj.type)
        if json_key and json_key in obj.data:
            try:
                json.loads(obj.data[json_key])
            except ValueError as exc:
                errs.append(validation.invalid(f"data[{json_key}]", "<secret contents redacted>", str(exc)))
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return (
            self.validate(new)
            + immutable("type", new.type, old.type or "Opaque")  # stored before defaulting
            + _immutable_errors(new, old, {"data": (dict(new.data), dict(old.data))})
        )


class ConfigMapStrategy(Strategy):
    def validate(self, obj: Any) -> list[FieldError]:
        errs = _key_errors(obj.data, "data") + _key_errors(obj.binary_data, "binaryData")
        errs += [
            validation.invalid(f"binaryData[{key}]", key, f"duplicate of key {json.dumps(key)}")
            for key in obj.binary_data
            if key in obj.data
        ]
        return errs + _size_errors([*obj.data.values(), *obj.binary_data.values()], "data")

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        contents = {
            "data": (dict(new.data), dict(old.data)),
            "binaryData": (dict(new.binary_data), dict(old.binary_data)),
        }
        return self.validate(new) + _immutable_errors(new, old, contents)
