"""Pod spec defaulting and validation, shared by Pods and every pod template (Deployment, Job, ...).

Validation runs on every create and update, and almost every value it checks is valid and one of few
distinct strings ("100m", "64Mi", "main"). So the per-value checks (a container or volume name, a
quantity, request <= limit) first ask a memoized "is this value fine?" and only build the field path and
call the full validator -- whose FieldErrors are returned unchanged -- when the answer is no. Only short
values are memoized, so a client cannot grow the caches with large strings; the caches are bounded LRUs.
"""

from __future__ import annotations

import functools

from skiff.api.core.v1 import pod_pb2, volume_pb2
from skiff_common.errors import FieldError

from skiff_apiserver.machinery import quantity, validation
from skiff_apiserver.registry.strategies.volumefiles import (
    validate_downward_files,
    validate_key_to_paths,
    validate_volume_files,
)

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")


_MEMO_MAX_LEN = 64  # longer values are checked without the memo (rare, and keeps the caches small)


@functools.lru_cache(maxsize=4096)
def _label_ok_memo(value: str) -> bool:
    return not validation.validate_dns1123_label(value, "")


@functools.lru_cache(maxsize=4096)
def _quantity_ok_memo(value: str) -> bool:
    return not validation.validate_quantity(value, "")


@functools.lru_cache(maxsize=4096)
def _gt_memo(a: str, b: str) -> bool:
    try:
        return bool(quantity.parse_quantity(a) > quantity.parse_quantity(b))
    except ValueError:  # unparsable: validate_quantity reports it
        return False


def _label_errors(value: str, path: str) -> list[FieldError]:
    if len(value) <= _MEMO_MAX_LEN and _label_ok_memo(value):
        return []
    return validation.validate_dns1123_label(value, path)


def _unsupported(path: str, value: str, allowed: tuple[str, ...]) -> FieldError:
    return FieldError(
        path, "Unsupported value", f"{value!r}: supported values: " + ", ".join(f'"{a}"' for a in allowed)
    )


def default_pod_spec(spec: pod_pb2.PodSpec) -> None:
    spec.restart_policy = spec.restart_policy or "Always"
    spec.dns_policy = spec.dns_policy or "ClusterFirst"
    spec.scheduler_name = spec.scheduler_name or "default-scheduler"
    if not spec.HasField("termination_grace_period_seconds"):
        spec.termination_grace_period_seconds = 30
    if not spec.HasField("enable_service_links"):
        spec.enable_service_links = True
    for c in [*spec.init_containers, *spec.containers]:
        if not c.image_pull_policy:
            tagless = ":" not in c.image.rsplit("/", 1)[-1]
            c.image_pull_policy = "Always" if tagless or c.image.endswith(":latest") else "IfNotPresent"
        c.termination_message_path = c.termination_message_path or "/dev/termination-log"
        c.termination_message_policy = c.termination_message_policy or "File"
        for p in c.ports:
            p.protocol = p.protocol or "TCP"


_PROJECTIONS = ("secret", "config_map", "downward_api", "service_account_token")


def _mode_errors(mode: int, path: str) -> list[FieldError]:
    if 0 <= mode <= 0o777:
        return []
    return [FieldError(path, "Invalid value", f"{mode}: must be a number between 0 and 0777 (octal), both inclusive")]


def validate_projected(src: volume_pb2.ProjectedVolumeSource, path: str) -> list[FieldError]:
    """Kubernetes' rules for a projected volume: one source per projection, a token needs a path and
    at least 10 minutes, items as a secret, configMap or downwardAPI volume's (``volumefiles.py``), modes
    fit in 0777."""
    errs: list[FieldError] = []
    if src.HasField("default_mode"):
        errs += _mode_errors(src.default_mode, f"{path}.defaultMode")
    for j, proj in enumerate(src.sources):
        p = f"{path}.sources[{j}]"
        kinds_set = [fd.name for fd, _ in proj.ListFields() if fd.name in _PROJECTIONS]
        if len(kinds_set) != 1:
            errs.append(FieldError(p, "Forbidden", "must specify exactly 1 volume type"))
        if proj.HasField("service_account_token"):
            sat = proj.service_account_token
            if not sat.path:
                errs.append(FieldError(f"{p}.serviceAccountToken.path", "Required value"))
            if sat.HasField("expiration_seconds") and not 600 <= sat.expiration_seconds <= 2**32:
                detail = "may not specify a duration less than 10 minutes or more than 2^32 seconds"
                errs.append(FieldError(f"{p}.serviceAccountToken.expirationSeconds", "Invalid value", detail))
        errs += validate_key_to_paths(proj.secret.items, f"{p}.secret.items")
        errs += validate_key_to_paths(proj.config_map.items, f"{p}.configMap.items")
        errs += validate_downward_files(proj.downward_api.items, f"{p}.downwardAPI.items")
    return errs


def validate_pod_spec(spec: pod_pb2.PodSpec, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not spec.containers:
        errs.append(FieldError(f"{path}.containers", "Required value"))
    names: set[str] = set()
    vols = {v.name for v in spec.volumes}
    for i, v in enumerate(spec.volumes):
        errs += _label_errors(v.name, f"{path}.volumes[{i}].name")
        if v.HasField("empty_dir") and v.empty_dir.HasField("size_limit"):  # enforced by the kubelet's eviction
            size = v.empty_dir.size_limit.value
            if not _quantity_ok_memo(size) or _gt_memo("0", size):
                detail = "SizeLimit field must be a valid resource quantity"
                errs.append(FieldError(f"{path}.volumes[{i}].emptyDir.sizeLimit", "Forbidden", detail))
        if v.HasField("projected"):
            errs += validate_projected(v.projected, f"{path}.volumes[{i}].projected")
        errs += validate_volume_files(v, f"{path}.volumes[{i}]")
    for group, containers in (("initContainers", spec.init_containers), ("containers", spec.containers)):
        for i, c in enumerate(containers):
            p = f"{path}.{group}[{i}]"
            if not c.name:
                errs.append(FieldError(f"{p}.name", "Required value"))
            else:
                errs += _label_errors(c.name, f"{p}.name")
                if c.name in names:
                    errs.append(FieldError(f"{p}.name", "Duplicate value", repr(c.name)))
                names.add(c.name)
            if not c.image.strip():
                errs.append(FieldError(f"{p}.image", "Required value"))
            if c.image_pull_policy and c.image_pull_policy not in PULL_POLICIES:
                errs.append(_unsupported(f"{p}.imagePullPolicy", c.image_pull_policy, PULL_POLICIES))
            for j, port in enumerate(c.ports):
                errs += validation.validate_port(port.container_port, f"{p}.ports[{j}].containerPort")
                if port.host_port:
                    errs += validation.validate_port(port.host_port, f"{p}.ports[{j}].hostPort")
                if port.protocol and port.protocol not in PROTOCOLS:
                    errs.append(_unsupported(f"{p}.ports[{j}].protocol", port.protocol, PROTOCOLS))
            # Protobuf maps iterate through collections.abc's slow mixins: touch them only when set.
            resources = c.resources
            limits, requests = resources.limits, resources.requests
            for kind, amounts in (("limits", limits), ("requests", requests)):
                if amounts:
                    for res in sorted(amounts):
                        value = amounts[res].value
                        if len(value) > _MEMO_MAX_LEN or not _quantity_ok_memo(value):
                            errs += validation.validate_quantity(value, f"{p}.resources.{kind}[{res}]")
            if limits and requests:
                for res, q in requests.items():
                    lim = limits.get(res)
                    if lim is not None and _gt(q.value, lim.value):
                        errs.append(
                            FieldError(
                                f"{p}.resources.requests[{res}]",
                                "Invalid value",
                                f"{q.value!r}: must be less than or equal to {res} limit of {lim.value}",
                            )
                        )
            for j, m in enumerate(c.volume_mounts):
                if m.name not in vols:
                    errs.append(FieldError(f"{p}.volumeMounts[{j}].name", "Not found", repr(m.name)))
                if not m.mount_path:
                    errs.append(FieldError(f"{p}.volumeMounts[{j}].mountPath", "Required value"))
            for j, e in enumerate(c.env):
                if not e.name:
                    errs.append(FieldError(f"{p}.env[{j}].name", "Required value"))
    if spec.restart_policy and spec.restart_policy not in RESTART_POLICIES:
        errs.append(_unsupported(f"{path}.restartPolicy", spec.restart_policy, RESTART_POLICIES))
    if spec.dns_policy and spec.dns_policy not in DNS_POLICIES:
        errs.append(_unsupported(f"{path}.dnsPolicy", spec.dns_policy, DNS_POLICIES))
    if spec.HasField("termination_grace_period_seconds") and spec.termination_grace_period_seconds < 0:
        errs.append(
            FieldError(f"{path}.terminationGracePeriodSeconds", "Invalid value", "must be greater than or equal to 0")
        )
    if spec.node_name:
        errs += validation.validate_dns1123_subdomain(spec.node_name, f"{path}.nodeName")
    if spec.HasField("host_users") and not spec.host_users:  # Kubernetes' validateHostUsers
        for field, on in (("hostNetwork", spec.host_network), ("hostPID", spec.host_pid), ("hostIPC", spec.host_ipc)):
            if on:
                errs.append(FieldError(f"{path}.{field}", "Forbidden", "when `hostUsers` is false"))
    return errs


def _gt(a: str, b: str) -> bool:
    if len(a) <= _MEMO_MAX_LEN and len(b) <= _MEMO_MAX_LEN:
        return _gt_memo(a, b)
    return _gt_memo.__wrapped__(a, b)
