"""Escalation prevention, as Kubernetes' RBAC storage does it: nobody gets more rights by writing RBAC.

* Creating or updating a Role or ClusterRole is allowed when the writer already holds every rule in it
  (in the role's namespace; cluster-wide for a ClusterRole), or may `escalate` that role. An
  aggregationRule needs cluster-admin-like rights (`*` on everything), since it can gather any rule.
* Creating or updating a binding is allowed when the writer holds every rule of the role it refers to
  (in the binding's namespace), or may `bind` that role.
* system:masters, and the apiserver itself (no user: bootstrap reconciliation), are never checked.

The writer's rules are RBAC's alone (the Node authorizer grants nothing that can be handed on).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver.auth import user as users
from skiff_apiserver.auth.attributes import Attributes
from skiff_apiserver.auth.authorizer import Authorizer
from skiff_apiserver.auth.rbac.authorizer import RBACAuthorizer
from skiff_apiserver.auth.rbac.policy import RBAC, rule
from skiff_apiserver.auth.rbac.rules import Rule, describe, uncovered
from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.registry.strategy import Strategy

_ROLE_KINDS = ("roles", "clusterroles")
_BINDING_KINDS = ("rolebindings", "clusterrolebindings")
_FULL_AUTHORITY = [rule("*", "*", "*"), rule("*", urls=("*",))]


class EscalationCheck:
    def __init__(self, authorizer: Authorizer, rbac: RBACAuthorizer) -> None:
        self.authorizer = authorizer
        self.rbac = rbac

    async def admit_create(self, info: KindInfo, obj: Message, strategy: Strategy) -> None:
        self._check(info, obj)

    def admit_update(self, info: KindInfo, new: Message, old: Message) -> None:
        self._check(info, new)

    def admit_delete(self, info: KindInfo, obj: Message) -> None:
        pass

    def _check(self, info: KindInfo, obj: Any) -> None:
        if info.resource not in _ROLE_KINDS and info.resource not in _BINDING_KINDS:
            return
        user = users.current()
        if user is None or users.MASTERS in user.groups:
            return
        namespace, name = obj.metadata.namespace, obj.metadata.name
        if info.resource in _ROLE_KINDS:
            if self._may(user, "escalate", info.resource, namespace, name):
                return
            if info.resource == "clusterroles" and obj.aggregation_rule.cluster_role_selectors:
                if uncovered(self.rbac.rules_for(user, ""), _FULL_AUTHORITY):
                    raise errors.Forbidden(
                        f'{info.resource}.{RBAC} "{name}" is forbidden: must have cluster-admin privileges to use '
                        "an aggregationRule"
                    )
            self._confirm(user, info, namespace, name, list(obj.rules))
            return
        ref = obj.role_ref
        ref_resource = "clusterroles" if ref.kind == "ClusterRole" else "roles"
        if self._may(user, "bind", ref_resource, namespace, ref.name):
            return
        rules = self._role_rules(ref.kind, ref.name, namespace)
        if rules is None:
            raise errors.Forbidden(
                f'{info.resource}.{RBAC} "{name}" is forbidden: {ref_resource}.{RBAC} "{ref.name}" not found'
            )
        self._confirm(user, info, namespace, name, rules)

    def _may(self, user: users.UserInfo, verb: str, resource: str, namespace: str, name: str) -> bool:
        attrs = Attributes(user, verb, resource, namespace=namespace, name=name, api_group=RBAC)
        return self.authorizer.authorize(attrs).allowed

    def _role_rules(self, kind: str, name: str, namespace: str) -> list[Rule] | None:
        index = self.rbac.index()
        if kind == "ClusterRole":
            found = index.cluster_rules.get(name)
            return list(found) if found is not None else None
        roles = self.rbac.caches[0]
        for role in roles.objects.values():
            meta: Any = role.metadata  # type: ignore[attr-defined]
            if meta.namespace == namespace and meta.name == name:
                return list(role.rules)  # type: ignore[attr-defined]
        return None

    def _confirm(self, user: users.UserInfo, info: KindInfo, namespace: str, name: str, wanted: list[Rule]) -> None:
        missing = uncovered(self.rbac.rules_for(user, namespace), wanted)
        if missing:
            groups = "[" + " ".join(f'"{g}"' for g in user.groups) + "]"
            raise errors.Forbidden(
                f'{info.resource}.{RBAC} "{name}" is forbidden: user "{user.name}" (groups={groups}) is attempting '
                "to grant RBAC permissions not currently held:\n" + "\n".join(describe(r) for r in missing)
            )
