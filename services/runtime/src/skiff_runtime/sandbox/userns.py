"""A pod's user namespace from CRI ``NamespaceOption.userns_options`` (KEP-127, ``hostUsers: false``).

No ``userns_options`` at all, or mode NODE, keeps the host's user namespace (as containerd: the message's
presence matters, since mode POD is the enum's zero value). Mode POD gives the pod one user namespace,
shared by its containers, with the kubelet's mappings: containerd accepts exactly one uid and one gid
range, and so do we, with container id 0 in it (the container root must map somewhere) and host id 0
out of it (mapping the host's root would defeat the point). CONTAINER and TARGET are not offered, nor is
a user namespace with the host's network (the kubelet never asks: Kubernetes forbids ``hostNetwork``
with ``hostUsers: false``).
"""

from __future__ import annotations

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import FieldError

_FIELD = "config.linux.security_context.namespace_options.userns_options"


def _check_maps(maps: list[cri.IDMapping], name: str) -> list[FieldError]:
    if len(maps) != 1:
        return [FieldError(f"{_FIELD}.{name}", "Invalid value", "mode POD needs exactly one mapping")]
    m = maps[0]
    if m.container_id != 0 or m.length == 0:
        return [FieldError(f"{_FIELD}.{name}[0]", "Invalid value", "must map container id 0 with a length > 0")]
    if m.host_id == 0 or m.host_id + m.length > 2**32 - 1:
        return [FieldError(f"{_FIELD}.{name}[0].host_id", "Invalid value", "the host range must exclude 0")]
    return []


def validate(config: cri.PodSandboxConfig) -> list[FieldError]:
    opts = config.linux.security_context.namespace_options
    if not opts.HasField("userns_options"):
        return []
    u = opts.userns_options
    if u.mode == cri.NODE:
        if u.uids or u.gids:
            return [FieldError(_FIELD, "Invalid value", "mode NODE takes no mappings")]
        return []
    if u.mode != cri.POD:
        return [FieldError(f"{_FIELD}.mode", "Unsupported value", f"{cri.NamespaceMode.Name(u.mode)}: POD or NODE")]
    errors = _check_maps(list(u.uids), "uids") + _check_maps(list(u.gids), "gids")
    if opts.network == cri.NODE:
        errors.append(FieldError(f"{_FIELD}.mode", "Forbidden", "POD with the host's network namespace"))
    return errors


def id_maps(config: cri.PodSandboxConfig) -> tuple[list[list[int]], list[list[int]]] | None:
    """([[container_id, host_id, size]] for uids, same for gids), or None for the host's namespace."""
    opts = config.linux.security_context.namespace_options
    u = opts.userns_options
    if not opts.HasField("userns_options") or u.mode != cri.POD:
        return None
    return (
        [[m.container_id, m.host_id, m.length] for m in u.uids],
        [[m.container_id, m.host_id, m.length] for m in u.gids],
    )
