"""Validation of the files a volume writes: secret/configMap ``items`` and downwardAPI files.

Kubernetes' validateKeyToPath (a secret or configMap volume's items, a projected secret/configMap
source's): a key, a local path and a mode within 0777. Its validateDownwardAPIVolumeFile (a downwardAPI
volume's items, a projected downwardAPI source's): a local path, exactly one of fieldRef or
resourceFieldRef, and a mode within 0777. A local path is relative, has no ``..`` element and does not
start with ``..`` (the kubelet's atomic writer reserves those names). A volume can only show what is
fixed for the pod's life or updated in place (``metadata.name/namespace/uid/labels/annotations``);
``status.podIP`` and the like are env-only. A resourceFieldRef names its container (volumes belong to no
container) and a divisor the resource understands (cpu: ``1m`` or ``1``; memory and ephemeral-storage:
``1`` and the powers of 1000 and 1024).
"""

from __future__ import annotations

from collections.abc import Iterable

from skiff.api.core.v1 import container_pb2, volume_pb2
from skiff_common.apimachinery.downward import RESOURCES, SUBSCRIPT, VOLUME_FIELD_PATHS
from skiff_common.errors import FieldError

CPU_DIVISORS = ("1m", "1")
BYTE_DIVISORS = ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
_MODE_DETAIL = "must be a number between 0 and 0777 (octal), both inclusive"


def local_path_errors(rel: str, path: str) -> list[FieldError]:
    """Kubernetes' ValidateLocalNonReservedPath."""
    if rel.startswith("/"):
        return [FieldError(path, "Invalid value", f"{rel!r}: must be a relative path")]
    if ".." in rel.split("/"):
        return [FieldError(path, "Invalid value", f"{rel!r}: must not contain '..'")]
    if rel.startswith(".."):
        return [FieldError(path, "Invalid value", f"{rel!r}: must not start with '..'")]
    return []


def _field_path_errors(field_path: str, path: str) -> list[FieldError]:
    if field_path in VOLUME_FIELD_PATHS or SUBSCRIPT.fullmatch(field_path):
        return []
    allowed = ", ".join(f'"{p}"' for p in VOLUME_FIELD_PATHS)
    return [FieldError(path, "Unsupported value", f"{field_path!r}: supported values: {allowed}")]


def _resource_errors(sel: container_pb2.ResourceFieldSelector, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    resource, divisor = sel.resource, sel.divisor.value
    if not sel.container_name:
        errs.append(FieldError(f"{path}.containerName", "Required value"))
    if not resource:
        errs.append(FieldError(f"{path}.resource", "Required value"))
    elif resource not in RESOURCES:
        allowed = ", ".join(f'"{r}"' for r in RESOURCES)
        errs.append(FieldError(f"{path}.resource", "Unsupported value", f"{resource!r}: supported values: {allowed}"))
    elif divisor:
        cpu = resource.endswith(".cpu")
        if divisor not in (CPU_DIVISORS if cpu else BYTE_DIVISORS):
            which = "1m and 1" if cpu else ", ".join(BYTE_DIVISORS)
            which += f" are supported with the {resource.partition('.')[2]} resource"
            errs.append(FieldError(f"{path}.divisor", "Invalid value", f"{divisor!r}: only divisor's values {which}"))
    return errs


def validate_key_to_paths(items: Iterable[volume_pb2.KeyToPath], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for n, item in enumerate(items):
        p = f"{path}[{n}]"
        if not item.key:
            errs.append(FieldError(f"{p}.key", "Required value"))
        if not item.path:
            errs.append(FieldError(f"{p}.path", "Required value"))
        else:
            errs += local_path_errors(item.path, f"{p}.path")
        if item.HasField("mode") and not 0 <= item.mode <= 0o777:
            errs.append(FieldError(f"{p}.mode", "Invalid value", f"{item.mode}: {_MODE_DETAIL}"))
    return errs


def _default_mode_errors(
    src: volume_pb2.SecretVolumeSource | volume_pb2.ConfigMapVolumeSource | volume_pb2.DownwardAPIVolumeSource,
    path: str,
) -> list[FieldError]:
    if src.HasField("default_mode") and not 0 <= src.default_mode <= 0o777:
        return [FieldError(f"{path}.defaultMode", "Invalid value", f"{src.default_mode}: {_MODE_DETAIL}")]
    return []


def validate_volume_files(vol: volume_pb2.Volume, path: str) -> list[FieldError]:
    """A secret, configMap or downwardAPI volume's defaultMode and items (others: nothing to check)."""
    if vol.HasField("secret"):
        p = f"{path}.secret"
        return _default_mode_errors(vol.secret, p) + validate_key_to_paths(vol.secret.items, f"{p}.items")
    if vol.HasField("config_map"):
        p = f"{path}.configMap"
        return _default_mode_errors(vol.config_map, p) + validate_key_to_paths(vol.config_map.items, f"{p}.items")
    if vol.HasField("downward_api"):
        p = f"{path}.downwardAPI"
        return _default_mode_errors(vol.downward_api, p) + validate_downward_files(vol.downward_api.items, f"{p}.items")
    return []


def validate_downward_files(items: Iterable[volume_pb2.DownwardAPIVolumeFile], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for n, item in enumerate(items):
        p = f"{path}[{n}]"
        if not item.path:
            errs.append(FieldError(f"{p}.path", "Required value"))
        else:
            errs += local_path_errors(item.path, f"{p}.path")
        has_field = item.HasField("field_ref") and bool(item.field_ref.field_path)
        has_resource = item.HasField("resource_field_ref")
        if has_field and has_resource:
            errs.append(
                FieldError(p, "Invalid value", "fieldRef and resourceFieldRef can not be specified simultaneously")
            )
        elif has_field:
            errs += _field_path_errors(item.field_ref.field_path, f"{p}.fieldRef.fieldPath")
        elif has_resource:
            errs += _resource_errors(item.resource_field_ref, f"{p}.resourceFieldRef")
        else:
            errs.append(FieldError(p, "Required value", "one of fieldRef and resourceFieldRef is required"))
        if item.HasField("mode") and not 0 <= item.mode <= 0o777:
            errs.append(FieldError(f"{p}.mode", "Invalid value", f"{item.mode}: {_MODE_DETAIL}"))
    return errs
