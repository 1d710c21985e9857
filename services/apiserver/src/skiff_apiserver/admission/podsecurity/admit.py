"""Pod Security admission, as Kubernetes' built-in plugin: per-namespace levels from labels.

    pod-security.kubernetes.io/enforce: privileged | baseline | restricted   (refuse)
    pod-security.kubernetes.io/audit:   ...                                  (note in the log)
    pod-security.kubernetes.io/warn:    ...                                  (warn the client)
    pod-security.kubernetes.io/<mode>-version: latest | v1.N                 (Skiff evaluates "latest")

A namespace without a label gets the cluster default (`--pod-security-default-{enforce,audit,warn}`,
privileged unless set; `skiff up` warns at baseline). Pods are checked on create; a refusal is
`pods "x" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "root"), ...`;
a warning reads `would violate PodSecurity "restricted:latest": ...`, as kubectl shows it. Workload
objects (Deployment, ReplicaSet, DaemonSet, Job, CronJob) get the warnings and audit of their pod
template, never a refusal: their pods are refused when created. Exempt usernames and namespaces
(`--pod-security-exempt-*`) skip every check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver.admission import warnings
from skiff_apiserver.admission.podsecurity.checks import LEVELS, evaluate
from skiff_apiserver.auth import user as users
from skiff_apiserver.logs import log
from skiff_apiserver.machinery import KindInfo, kinds
from skiff_apiserver.registry.strategy import Strategy
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.watch_cache import WatchCache

LABEL = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
_TEMPLATES = {"deployments", "replicasets", "daemonsets", "jobs"}


@dataclass(frozen=True)
class Defaults:
    enforce: str = "privileged"
    audit: str = "privileged"
    warn: str = "privileged"
    exempt_usernames: tuple[str, ...] = ()
    exempt_namespaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for mode in MODES:
            if getattr(self, mode) not in LEVELS:
                raise ValueError(f"--pod-security-default-{mode}: must be one of {', '.join(LEVELS)}")


def _spec_of(info: KindInfo, obj: Any) -> Any | None:
    if info.resource == "pods":
        return obj.spec
    if info.resource in _TEMPLATES:
        return obj.spec.template.spec
    if info.resource == "cronjobs":
        return obj.spec.job_template.spec.template.spec
    return None


class PodSecurity:
    def __init__(self, caches: dict[str, WatchCache], prefix: str, defaults: Defaults) -> None:
        self.namespaces = caches["namespaces"]
        self.prefix = prefix
        self.info = kinds.lookup_resource("namespaces")
        self.defaults = defaults

    def _levels(self, namespace: str) -> dict[str, str]:
        ns: Any = self.namespaces.get(codec.object_key(self.prefix, self.info, "", namespace))
        labels: Any = ns.metadata.labels if ns is not None else {}
        out = {}
        for mode in MODES:
            value = labels.get(LABEL + mode, "")
            out[mode] = value if value in LEVELS else getattr(self.defaults, mode)
        return out

    async def admit_create(self, info: KindInfo, obj: Message, strategy: Strategy) -> None:
        self.check(info, obj)

    def admit_update(self, info: KindInfo, new: Message, old: Message) -> None:
        pass  # Kubernetes checks pod updates only where they can change security fields (not in Skiff)

    def admit_delete(self, info: KindInfo, obj: Message) -> None:
        pass

    def check(self, info: KindInfo, obj: Any) -> None:
        spec = _spec_of(info, obj)
        if spec is None:
            return
        namespace = obj.metadata.namespace
        user = users.current()
        if namespace in self.defaults.exempt_namespaces or (
            user is not None and user.name in self.defaults.exempt_usernames
        ):
            return
        levels = self._levels(namespace)
        cache: dict[str, list[str]] = {}

        def failures(level: str) -> list[str]:
            if level not in cache:
                cache[level] = evaluate(level, spec)
            return cache[level]

        name = obj.metadata.name or obj.metadata.generate_name
        if info.resource == "pods" and failures(levels["enforce"]):
            raise errors.Forbidden(
                f'pods "{name}" is forbidden: violates PodSecurity "{levels["enforce"]}:latest": '
                + ", ".join(failures(levels["enforce"]))
            )
        if failures(levels["warn"]):
            warnings.add(f'would violate PodSecurity "{levels["warn"]}:latest": ' + ", ".join(failures(levels["warn"])))
        if failures(levels["audit"]):
            log.info(
                "pod_security_audit", resource=info.resource, namespace=namespace, name=name,
                level=f"{levels['audit']}:latest", violations=failures(levels["audit"]),
            )  # fmt: skip


def defaults_from(
    enforce: str, audit: str, warn: str, exempt_usernames: Sequence[str], exempt_namespaces: Sequence[str]
) -> Defaults:
    return Defaults(enforce, audit, warn, tuple(exempt_usernames), tuple(exempt_namespaces))
