"""ResourceQuotas: Kubernetes' ValidateResourceQuota and its status subresource.

spec.hard names standard quota resources (or qualified ones: ``count/deployments.apps``,
``requests.example.com/gpu``) with non-negative amounts, whole numbers for counts. Scopes must be known,
not contradict each other (Terminating with NotTerminating, BestEffort with NotBestEffort) and suit the
resources limited (a BestEffort quota may only count pods); scope selector expressions need values for
In/NotIn and none for Exists/DoesNotExist. Status (hard and used) is written by the resourcequota
controller and by ResourceQuota admission, through UpdateStatus only.
"""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError
from skiff_common.quota import scopes as quota_scopes
from skiff_common.quota import usage

from skiff_apiserver.registry.strategies.resources import amounts
from skiff_apiserver.registry.strategy import Strategy

_EXISTS_ONLY = (
    "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, "
    "ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"
)
_CONFLICTS = (("Terminating", "NotTerminating"), ("BestEffort", "NotBestEffort"))


def _unsupported(path: str, value: str, allowed: tuple[str, ...]) -> FieldError:
    supported = ", ".join(f'"{a}"' for a in allowed)
    return FieldError(path, "Unsupported value", f'"{value}": supported values: {supported}')


def _scope_resource_errors(scope_names: list[str], hard: Any, path: str) -> list[FieldError]:
    for scope in scope_names:
        allowed = (lambda n: n in quota_scopes.BEST_EFFORT_RESOURCES) if scope == "BestEffort" else usage.is_pod_compute
        bad = [n for n in hard if not (allowed(n) or n == "count/pods")]
        if bad:
            return [FieldError(path, "Invalid value", f"{scope_names!r}: unsupported scope applied to resource")]
    return []


def validate_spec(spec: Any, path: str) -> list[FieldError]:
    _, errs = amounts(spec.hard, f"{path}.hard", quota=True)
    for i, scope in enumerate(spec.scopes):
        if scope not in quota_scopes.SCOPES:
            errs.append(_unsupported(f"{path}.scopes[{i}]", scope, quota_scopes.SCOPES))
    names = list(spec.scopes)
    for i, expr in enumerate(spec.scope_selector.match_expressions):
        p = f"{path}.scopeSelector.matchExpressions[{i}]"
        if expr.scope_name not in quota_scopes.SCOPES:
            errs.append(_unsupported(f"{p}.scopeName", expr.scope_name, quota_scopes.SCOPES))
        names.append(expr.scope_name)
        if expr.operator not in quota_scopes.OPERATORS:
            errs.append(_unsupported(f"{p}.operator", expr.operator, quota_scopes.OPERATORS))
        elif expr.operator in ("In", "NotIn"):
            if expr.scope_name != "PriorityClass":
                errs.append(
                    FieldError(
                        f"{p}.operator",
                        "Invalid value",
                        f'"{expr.operator}": {_EXISTS_ONLY}',
                    )
                )
            elif not expr.values:
                errs.append(
                    FieldError(
                        f"{p}.values",
                        "Required value",
                        "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                    )
                )
        elif expr.values:
            errs.append(
                FieldError(
                    f"{p}.values",
                    "Invalid value",
                    "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                )
            )
    for a, b in _CONFLICTS:
        if a in names and b in names:
            errs.append(FieldError(f"{path}.scopes", "Invalid value", f"{names!r}: conflicting scopes"))
    known = [n for n in names if n in quota_scopes.SCOPES]
    if known and spec.hard:
        errs += _scope_resource_errors(known, spec.hard, f"{path}.scopes")
    return errs


class ResourceQuotaStrategy(Strategy):
    def validate(self, obj: Any) -> list[FieldError]:
        errs = validate_spec(obj.spec, "spec")
        _, status_hard = amounts(obj.status.hard, "status.hard", quota=True)
        _, status_used = amounts(obj.status.used, "status.used", quota=True)
        return errs + status_hard + status_used
