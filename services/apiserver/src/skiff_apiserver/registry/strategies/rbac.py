"""Role, ClusterRole, RoleBinding and ClusterRoleBinding: Kubernetes' RBAC validation.

Names are path segments, not DNS names (`system:kube-scheduler`), as Kubernetes validates RBAC names. A
rule names verbs, and either API groups with resources or (ClusterRoles only) non-resource URLs, never
both. A binding's roleRef (rbac.authorization.k8s.io, Role or ClusterRole, a name) cannot change after
creation: binding someone to another role is a new binding. Who may write these objects at all, and
what they may grant, is the escalation check's (auth/rbac/escalation.py).
"""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategy import Strategy

RBAC_GROUP = "rbac.authorization.k8s.io"


def path_segment_errors(name: str, path: str) -> list[FieldError]:
    if name in (".", ".."):
        return [FieldError(path, "Invalid value", f"\"{name}\": may not be '{name}'")]
    for bad in ("/", "%"):
        if bad in name:
            return [FieldError(path, "Invalid value", f"\"{name}\": may not contain '{bad}'")]
    return []


def rule_errors(rule: Any, path: str, *, namespaced: bool) -> list[FieldError]:
    errs = []
    if not rule.verbs:
        errs.append(FieldError(f"{path}.verbs", "Required value", "verbs must contain at least one value"))
    if rule.non_resource_urls:
        if namespaced:
            errs.append(
                FieldError(
                    f"{path}.nonResourceURLs", "Invalid value", "namespaced rules cannot apply to non-resource URLs"
                )
            )
        if rule.api_groups or rule.resources or rule.resource_names:
            errs.append(
                FieldError(
                    f"{path}.nonResourceURLs",
                    "Invalid value",
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not rule.api_groups:
        errs.append(
            FieldError(f"{path}.apiGroups", "Required value", "resource rules must supply at least one api group")
        )
    if not rule.resources:
        errs.append(
            FieldError(f"{path}.resources", "Required value", "resource rules must supply at least one resource")
        )
    return errs


class _RBACStrategy(Strategy):
    def name_errors(self, name: str, path: str) -> list[FieldError]:
        return path_segment_errors(name, path)


class RoleStrategy(_RBACStrategy):
    def validate(self, obj: Any) -> list[FieldError]:
        errs: list[FieldError] = []
        for i, r in enumerate(obj.rules):
            errs += rule_errors(r, f"rules[{i}]", namespaced=self.info.namespaced)
        return errs


class BindingStrategy(_RBACStrategy):
    def validate(self, obj: Any) -> list[FieldError]:
        errs: list[FieldError] = []
        ref = obj.role_ref
        if ref.api_group != RBAC_GROUP:
            errs.append(
                FieldError(
                    "roleRef.apiGroup", "Unsupported value", f'"{ref.api_group}": supported values: "{RBAC_GROUP}"'
                )
            )
        kinds = ("Role", "ClusterRole") if self.info.namespaced else ("ClusterRole",)
        if ref.kind not in kinds:
            supported = ", ".join(f'"{k}"' for k in kinds)
            errs.append(FieldError("roleRef.kind", "Unsupported value", f'"{ref.kind}": supported values: {supported}'))
        if not ref.name:
            errs.append(FieldError("roleRef.name", "Required value"))
        else:
            errs += path_segment_errors(ref.name, "roleRef.name")
        for i, s in enumerate(obj.subjects):
            errs += self._subject_errors(s, f"subjects[{i}]")
        return errs

    def _subject_errors(self, s: Any, path: str) -> list[FieldError]:
        errs = []
        if not s.name:
            errs.append(FieldError(f"{path}.name", "Required value"))
        if s.kind == "ServiceAccount":
            if s.api_group:
                errs.append(
                    FieldError(f"{path}.apiGroup", "Unsupported value", f'"{s.api_group}": supported values: ""')
                )
            if not s.namespace and not self.info.namespaced:
                errs.append(FieldError(f"{path}.namespace", "Required value"))
        elif s.kind in ("User", "Group"):
            if s.api_group != RBAC_GROUP:
                errs.append(
                    FieldError(
                        f"{path}.apiGroup", "Unsupported value", f'"{s.api_group}": supported values: "{RBAC_GROUP}"'
                    )
                )
        else:
            errs.append(
                FieldError(
                    f"{path}.kind",
                    "Unsupported value",
                    f'"{s.kind}": supported values: "ServiceAccount", "User", "Group"',
                )
            )
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = self.validate(new)
        if new.role_ref != old.role_ref:
            errs.append(FieldError("roleRef", "Invalid value", "cannot change roleRef"))
        return errs
