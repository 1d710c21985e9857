"""Kubernetes' REST paths -> (kind, namespace, name, subresource).

    /api/v1/<resource>[/<name>[/<sub>]]                         cluster-scoped, or every namespace (list)
    /api/v1/namespaces/<ns>/<resource>[/<name>[/<sub>]]         namespaced
    /apis/<group>/<version>/...                                 the same under a group

`/api/v1/namespaces/<name>/status` and `/finalize` are the Namespace's own subresources, not a resource
called "status" in a namespace. Resources are matched by their exact plural, as Kubernetes routes them
(short names are a client-side convenience).
"""

from __future__ import annotations

from dataclasses import dataclass

from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.rest import resources
from skiff_common import errors

_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class Target:
    info: KindInfo
    namespace: str  # "" for cluster-scoped kinds, and for a list across every namespace
    name: str  # "" for the collection
    subresource: str  # "" for the object itself


@dataclass(frozen=True)
class GroupVersion:
    group: str
    version: str


def parse(path: str) -> Target | GroupVersion | None:
    """A Target, a GroupVersion (its resource list), or None when the path is not an API path."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return GroupVersion(group, version)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and rest[2] in _NAMESPACE_SUBRESOURCES):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise errors.NotFound(f"the server could not find the requested resource ({path})")
    info = resources.lookup(group, version, rest[0])
    if info is None:
        raise errors.NotFound(f"the server could not find the requested resource ({path})")
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if namespace and not info.namespaced:
        raise errors.NotFound(f"the server could not find the requested resource ({path})")
    if info.namespaced and name and not namespace:
        raise errors.NotFound(f"the server could not find the requested resource ({path})")
    if sub and sub not in {s.name for s in resources.subresources_of(info)}:
        raise errors.NotFound(f"the server could not find the requested resource ({path})")
    return Target(info, namespace, name, sub)
