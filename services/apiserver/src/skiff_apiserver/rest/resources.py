"""What the REST port serves, derived from the one kinds registry (never a hand-kept list).

Each kind becomes a resource with Kubernetes' verbs, short names and categories, plus its subresources
(status, scale, binding, log). Discovery, routing and OpenAPI all read these tables, so a kind added to
skiff_common's registry is served here without another line.
"""

from __future__ import annotations

from dataclasses import dataclass

from skiff_apiserver.machinery import KindInfo, kinds

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# Kubernetes' "all" category: what `kubectl get all` shows.
ALL_CATEGORY = frozenset(
    {"pods", "services", "deployments", "replicasets", "daemonsets", "jobs", "cronjobs", "horizontalpodautoscalers"}
)
# What Kubernetes itself reports as the API version (kubectl's version skew checks read it).
KUBE_VERSION = (1, 33)


@dataclass(frozen=True)
class Subresource:
    name: str
    verbs: tuple[str, ...]
    group: str  # of the response kind
    version: str
    kind: str


def subresources_of(info: KindInfo) -> tuple[Subresource, ...]:
    out = []
    for sub in info.subresources:
        if sub == "status":
            out.append(Subresource("status", ("get", "patch", "update"), info.group, info.version, info.kind))
        elif sub == "scale":
            out.append(Subresource("scale", ("get", "patch", "update"), "autoscaling", "v1", "Scale"))
        elif sub == "finalize":  # a namespace's spec.finalizers: PUT only, as Kubernetes serves it
            out.append(Subresource("finalize", ("update",), info.group, info.version, info.kind))
        elif sub == "approval":  # a CSR's Approved/Denied conditions
            out.append(Subresource("approval", ("get", "patch", "update"), info.group, info.version, info.kind))
        elif sub == "binding":
            out.append(Subresource("binding", ("create",), "", "v1", "Binding"))
    if info.resource == "pods":
        out.append(Subresource("log", ("get",), "", "v1", "Pod"))
        out.append(Subresource("exec", ("create", "get"), "", "v1", "PodExecOptions"))
        out.append(Subresource("attach", ("create", "get"), "", "v1", "PodAttachOptions"))
        out.append(Subresource("portforward", ("create", "get"), "", "v1", "PodPortForwardOptions"))
        out.append(Subresource("eviction", ("create",), "policy", "v1", "Eviction"))
    return tuple(out)


def categories_of(info: KindInfo) -> list[str]:
    return ["all"] if info.resource in ALL_CATEGORY else []


def group_versions() -> dict[str, list[str]]:
    """group -> versions served ("" is the core group), in registry order."""
    out: dict[str, list[str]] = {}
    for info in kinds.ALL_KINDS:
        versions = out.setdefault(info.group, [])
        if info.version not in versions:
            versions.append(info.version)
    return out


_BY_PATH: dict[tuple[str, str, str], KindInfo] = {(i.group, i.version, i.resource): i for i in kinds.ALL_KINDS}


def lookup(group: str, version: str, resource: str) -> KindInfo | None:
    """The kind served at /api(s)/<group>/<version>/<resource>: exact plural only, as Kubernetes routes."""
    return _BY_PATH.get((group, version, resource))


def kinds_in(group: str, version: str) -> list[KindInfo]:
    return [i for i in kinds.ALL_KINDS if i.group == group and i.version == version]
