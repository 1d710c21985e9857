"""Put the bootstrap policy back at start-up, as kube-apiserver's RBAC post-start hook does.

A missing default role or binding is created. An existing one whose `autoupdate` annotation is not
"false" gets back what the default holds and it lacks (rules, aggregation selectors, subjects, labels and
annotations); what an administrator added is kept, as Kubernetes' reconciliation never removes
permissions at start-up. Setting autoupdate to "false" opts an object out entirely.
"""

from __future__ import annotations

from typing import Any

from skiff_common import errors

from skiff_apiserver.auth.rbac import addons, controllers, policy
from skiff_apiserver.logs import log
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry.api import Registry


def _merge_role(current: Any, default: Any) -> bool:
    changed = False
    for r in default.rules:
        if r not in current.rules:
            current.rules.append(r)
            changed = True
    if not hasattr(default, "aggregation_rule"):  # a namespaced Role
        return changed
    for sel in default.aggregation_rule.cluster_role_selectors:
        if sel not in current.aggregation_rule.cluster_role_selectors:
            current.aggregation_rule.cluster_role_selectors.append(sel)
            changed = True
    return changed


def _merge_binding(current: Any, default: Any) -> bool:
    changed = False
    for s in default.subjects:
        if s not in current.subjects:
            current.subjects.append(s)
            changed = True
    return changed


def _merge_meta(current: Any, default: Any) -> bool:
    changed = False
    for field in ("labels", "annotations"):
        have, want = getattr(current.metadata, field), getattr(default.metadata, field)
        for k, v in want.items():
            if have.get(k) != v:
                have[k] = v
                changed = True
    return changed


async def reconcile(registry: Registry) -> None:
    pairs: list[tuple[str, list[Any], Any]] = [
        ("clusterroles", [*policy.cluster_roles(), *controllers.cluster_roles(), *addons.cluster_roles()], _merge_role),
        (
            "clusterrolebindings",
            [*policy.cluster_role_bindings(), *controllers.cluster_role_bindings(), *addons.cluster_role_bindings()],
            _merge_binding,
        ),
        ("roles", [*controllers.roles(), *addons.roles()], _merge_role),
        ("rolebindings", [*controllers.role_bindings(), *addons.role_bindings()], _merge_binding),
    ]
    created = updated = 0
    for resource, defaults, merge in pairs:
        info = kinds.lookup_resource(resource)
        for default in defaults:
            name, namespace = default.metadata.name, default.metadata.namespace
            for _ in range(5):
                try:
                    current: Any = await registry.get(info, namespace, name)
                except errors.NotFound:
                    try:
                        await registry.create(default)
                        created += 1
                        break
                    except errors.AlreadyExists:
                        continue
                if current.metadata.annotations.get(policy.AUTOUPDATE) == "false":
                    break
                if not (merge(current, default) | _merge_meta(current, default)):
                    break
                try:
                    await registry.update(current)
                    updated += 1
                    break
                except errors.Conflict:
                    continue
    log.info("rbac_bootstrap_reconciled", created=created, updated=updated)
